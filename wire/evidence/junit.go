package evidence

import (
	"encoding/xml"
	"fmt"
	"strconv"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

// JUnit renders the manifest's results as JUnit XML: a test suite per run, a test case per
// result (named for its script and device), failed and skipped as such, and the paths of its
// outputs in the bundle as its system-out.
func JUnit(m *Manifest) ([]byte, error) {
	out := junitSuites{Name: "MAAS results of " + m.Machine.Hostname}
	index := map[string]int{}
	var total float64
	for _, r := range m.Results {
		i, ok := index[r.Run]
		if !ok {
			i = len(out.Suites)
			index[r.Run] = i
			out.Suites = append(out.Suites, junitSuite{Name: r.Run})
		}
		s := &out.Suites[i]
		name := r.Name
		if r.Device != "" {
			name += " [" + r.Device + "]"
		}
		c := junitCase{Name: name, Classname: r.Run, Time: seconds(r.Runtime)}
		for _, f := range r.Files {
			c.SystemOut += f + "\n"
		}
		switch {
		case r.Failed && !r.Suppressed:
			msg := r.Status
			if r.ExitStatus != nil {
				msg = fmt.Sprintf("%s (exit status %d)", r.Status, *r.ExitStatus)
			}
			c.Failure = &junitMessage{Message: msg, Type: r.Status}
			s.Failures++
			out.Failures++
		case r.Skipped || r.Suppressed:
			msg := r.Status
			if r.Suppressed {
				msg += " (suppressed)"
			}
			c.Skipped = &junitMessage{Message: msg}
			s.Skipped++
			out.Skipped++
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
		out.Tests++
		total += r.Runtime
	}
	for i := range out.Suites {
		var t float64
		for _, c := range out.Suites[i].Cases {
			v, _ := strconv.ParseFloat(c.Time, 64)
			t += v
		}
		out.Suites[i].Time = seconds(t)
	}
	out.Time = seconds(total)
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bundle: encode the JUnit results: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
