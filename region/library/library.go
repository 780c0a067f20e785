// Package library keeps the region's script library: the built-in scripts registered at
// start, scripts users upload with their revisions, and the selection of scripts by name or
// tag for a commissioning or a test.
package library

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"maasgo/region/store"
	"maasgo/scripts"
	"maasgo/wire"
)

// FieldErrors are problems with request fields, by field; the API answers them with 400.
type FieldErrors = wire.FieldErrors

func fieldErr(field, format string, args ...any) error {
	return FieldErrors{field: {fmt.Sprintf(format, args...)}}
}

// asFieldErrors turns the scripts package's errors into FieldErrors.
func asFieldErrors(err error) error {
	var es scripts.Errors
	if errors.As(err, &es) {
		return FieldErrors(es.ByKey())
	}
	var fe *scripts.FieldError
	if errors.As(err, &fe) {
		return FieldErrors{fe.Key(): {fe.Err.Error()}}
	}
	return err
}

// metadataFields are the request fields that set script metadata.
var metadataFields = []string{scripts.KeyName, scripts.KeyTitle, scripts.KeyDescription, scripts.KeyTags, "type",
	scripts.KeyScriptType, scripts.KeyHardwareType, scripts.KeyParallel, scripts.KeyTimeout, scripts.KeyDestructive,
	scripts.KeyMayReboot, scripts.KeyRecommission, scripts.KeyApplyConfiguredNetworking, scripts.KeyPackages,
	scripts.KeyForHardware}

// Request is a create or update of a script as the API received it.
type Request struct {
	// Body is the new script, or nil to keep the current one (update only).
	Body []byte
	// Fields are the request's metadata fields; they override the embedded metadata.
	Fields map[string]string
	// Comment describes the new revision.
	Comment *string
}

// apply lets the request's fields override md.
func (r Request) apply(md *scripts.Metadata) error {
	errs := FieldErrors{}
	for _, k := range metadataFields {
		v, ok := r.Fields[k]
		if !ok {
			continue
		}
		key := k
		if key == "type" {
			key = scripts.KeyScriptType
		}
		delete(md.Set, key) // uploaded fields win over the embedded block
		if err := md.Apply(key, v); err != nil {
			for f, msgs := range asFieldErrors(err).(FieldErrors) {
				errs[f] = append(errs[f], msgs...)
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// fill copies metadata into a stored script.
func fill(s *store.Script, md *scripts.Metadata) error {
	s.Name, s.Title, s.Description = md.Name, md.Title, md.Description
	s.Tags = md.EffectiveTags()
	s.Type, s.HardwareType, s.Parallel, s.Timeout = md.ScriptType, md.HardwareType, md.Parallel, md.Timeout
	s.Destructive, s.MayReboot, s.Recommission = md.Destructive, md.MayReboot, md.Recommission
	s.ApplyConfiguredNetworking = md.ApplyConfiguredNetworking
	s.ForHardware = md.ForHardware
	var err error
	if s.Packages, err = json.Marshal(md.Packages); err != nil {
		return fmt.Errorf("encode packages: %w", err)
	}
	if s.Results, err = marshalOr(md.Results, "{}"); err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if s.Parameters, err = marshalOr(md.Parameters, "{}"); err != nil {
		return fmt.Errorf("encode parameters: %w", err)
	}
	return nil
}

func marshalOr[T ~[]E, E any](v T, empty string) (json.RawMessage, error) {
	if len(v) == 0 {
		return json.RawMessage(empty), nil
	}
	return json.Marshal(v)
}

// Metadata reads a stored script back into metadata form.
func Metadata(s *store.Script) (*scripts.Metadata, error) {
	md := &scripts.Metadata{
		Name: s.Name, Title: s.Title, Description: s.Description, Tags: slices.Clone(s.Tags),
		ScriptType: s.Type, HardwareType: s.HardwareType, Parallel: s.Parallel, Timeout: s.Timeout,
		Destructive: s.Destructive, MayReboot: s.MayReboot, Recommission: s.Recommission,
		ApplyConfiguredNetworking: s.ApplyConfiguredNetworking, ForHardware: slices.Clone(s.ForHardware),
		Set: map[string]bool{},
	}
	if err := json.Unmarshal(s.Packages, &md.Packages); err != nil {
		return nil, fmt.Errorf("decode packages of script %s: %w", s.Name, err)
	}
	if err := json.Unmarshal(s.Results, &md.Results); err != nil {
		return nil, fmt.Errorf("decode results of script %s: %w", s.Name, err)
	}
	if err := json.Unmarshal(s.Parameters, &md.Parameters); err != nil {
		return nil, fmt.Errorf("decode parameters of script %s: %w", s.Name, err)
	}
	return md, nil
}

// Create adds a script from an upload. Problems with the script or the fields come back as
// FieldErrors naming the field.
func Create(tx *store.Tx, req Request) (*store.Script, error) {
	if len(req.Body) == 0 {
		return nil, fieldErr("script", "This field is required.")
	}
	md, err := scripts.Parse(req.Body)
	if err != nil {
		return nil, asFieldErrors(err)
	}
	if err := req.apply(md); err != nil {
		return nil, err
	}
	if md.Name == "" {
		return nil, fieldErr("name", "This field is required.")
	}
	if _, err := tx.ScriptByName(md.Name); err == nil {
		return nil, fieldErr("name", "Script with this Name already exists.")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	s := &store.Script{}
	if err := fill(s, md); err != nil {
		return nil, err
	}
	if err := tx.CreateScript(s, req.Body, req.Comment); err != nil {
		return nil, err
	}
	return s, nil
}

// Update changes a user script: a new body makes a new revision (an identical body makes
// none) and its embedded metadata replaces the stored metadata, except the tags and the
// timeout, which only the request changes after creation; request fields override both.
func Update(tx *store.Tx, s *store.Script, req Request) error {
	if s.Default {
		return fieldErr("script", "Not allowed to change on default scripts.")
	}
	md, err := Metadata(s)
	if err != nil {
		return err
	}
	newBody := false
	if req.Body != nil {
		cur, err := tx.ScriptVersion(s.CurrentVersion)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.Data, req.Body) {
			newBody = true
			parsed, err := scripts.Parse(req.Body)
			if err != nil {
				return asFieldErrors(err)
			}
			parsed.Tags, parsed.Timeout = md.Tags, md.Timeout
			if !parsed.Has(scripts.KeyName) {
				parsed.Name = md.Name
			}
			md = parsed
		}
	}
	if err := req.apply(md); err != nil {
		return err
	}
	if md.Name != s.Name {
		if _, err := tx.ScriptByName(md.Name); err == nil {
			return fieldErr("name", "Script with this Name already exists.")
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if err := fill(s, md); err != nil {
		return err
	}
	if newBody {
		v := &store.ScriptVersion{ScriptID: s.ID, Data: req.Body, Comment: req.Comment}
		if err := tx.AddScriptVersion(v); err != nil {
			return err
		}
		s.CurrentVersion = v.ID
	}
	return tx.UpdateScript(s)
}

// Revert makes an older revision current and drops the newer ones. to is a version id, or a
// negative number of steps back (-1 is the previous revision).
func Revert(tx *store.Tx, s *store.Script, to string) error {
	if s.Default {
		return fieldErr("to", "Unable to revert default script.")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(to), 10, 64)
	if err != nil {
		return fieldErr("to", "%q is not a revision id or a negative number of steps", to)
	}
	versions, err := tx.ScriptVersions(s.ID, false)
	if err != nil {
		return err
	}
	var target *store.ScriptVersion
	if n < 0 {
		if int(-n) >= len(versions) {
			return fieldErr("to", "Unable to revert %d steps back: %s has only %d revision(s).", -n, s.Name, len(versions))
		}
		target = &versions[-n]
	} else {
		for i := range versions {
			if versions[i].ID == n {
				target = &versions[i]
			}
		}
		if target == nil {
			return fieldErr("to", "%d not found in history", n)
		}
	}
	v, err := tx.ScriptVersion(target.ID)
	if err != nil {
		return err
	}
	md, err := scripts.Parse(v.Data)
	if err != nil {
		return asFieldErrors(err)
	}
	cur, err := Metadata(s)
	if err != nil {
		return err
	}
	md.Tags, md.Timeout = cur.Tags, cur.Timeout
	if !md.Has(scripts.KeyName) {
		md.Name = s.Name
	}
	if err := fill(s, md); err != nil {
		return err
	}
	s.CurrentVersion = v.ID
	if err := tx.DeleteScriptVersionsAfter(s.ID, v.ID); err != nil {
		return err
	}
	return tx.UpdateScript(s)
}

// Delete removes a user script.
func Delete(tx *store.Tx, s *store.Script) error {
	if s.Default {
		return fieldErr("script", "Unable to delete default script.")
	}
	return tx.DeleteScript(s.ID)
}

// AddTag and RemoveTag change a script's tags.
func AddTag(tx *store.Tx, s *store.Script, tag string) error {
	if err := scripts.ValidateTag(tag); err != nil {
		return fieldErr("tag", "%v", err)
	}
	if !slices.Contains(s.Tags, tag) {
		s.Tags = append(s.Tags, tag)
	}
	return tx.UpdateScript(s)
}

// RemoveTag drops a tag from a script.
func RemoveTag(tx *store.Tx, s *store.Script, tag string) error {
	if err := scripts.ValidateTag(tag); err != nil {
		return fieldErr("tag", "%v", err)
	}
	s.Tags = slices.DeleteFunc(s.Tags, func(t string) bool { return t == tag })
	return tx.UpdateScript(s)
}

// upgradeComment marks the revision a region upgrade makes of a built-in script.
const upgradeComment = "Updated by the region's built-in scripts"

// RegisterBuiltins makes the library hold every built-in script as a default script: new ones
// are added, changed ones get their new body as a revision and their metadata refreshed. It
// returns how many were added and upgraded.
func RegisterBuiltins(tx *store.Tx) (added, upgraded int, err error) {
	builtins, err := scripts.Builtins()
	if err != nil {
		return 0, 0, fmt.Errorf("read built-in scripts: %w", err)
	}
	for _, b := range builtins {
		s, err := tx.ScriptByName(b.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s = &store.Script{Default: true}
			if err := fill(s, b.Metadata); err != nil {
				return 0, 0, err
			}
			if err := tx.CreateScript(s, b.Body, nil); err != nil {
				return 0, 0, err
			}
			added++
			continue
		case err != nil:
			return 0, 0, err
		}
		if !s.Default {
			return 0, 0, fmt.Errorf("a user script is called %q like a built-in script: rename or delete it", b.Name)
		}
		cur, err := tx.ScriptVersion(s.CurrentVersion)
		if err != nil {
			return 0, 0, err
		}
		if bytes.Equal(cur.Data, b.Body) {
			continue
		}
		if err := fill(s, b.Metadata); err != nil {
			return 0, 0, err
		}
		comment := upgradeComment
		v := &store.ScriptVersion{ScriptID: s.ID, Data: b.Body, Comment: &comment}
		if err := tx.AddScriptVersion(v); err != nil {
			return 0, 0, err
		}
		s.CurrentVersion = v.ID
		if err := tx.UpdateScript(s); err != nil {
			return 0, 0, err
		}
		upgraded++
	}
	return added, upgraded, nil
}

// Matches reports whether a script is named by any of the names or tags.
func Matches(s *store.Script, namesOrTags []string) bool {
	for _, f := range namesOrTags {
		if f == s.Name || slices.Contains(s.Tags, f) || f == strconv.FormatInt(s.ID, 10) {
			return true
		}
	}
	return false
}

// Select returns the scripts of a type named by names or tags. Unknown names (that match no
// script's name or tag) come back as a FieldError on field.
func Select(tx *store.Tx, typ wire.ScriptType, namesOrTags []string, field string) ([]store.Script, error) {
	all, err := tx.Scripts(&typ)
	if err != nil {
		return nil, err
	}
	var out []store.Script
	for i := range all {
		if Matches(&all[i], namesOrTags) {
			out = append(out, all[i])
		}
	}
	var unknown []string
	for _, f := range namesOrTags {
		found := false
		for i := range all {
			if Matches(&all[i], []string{f}) {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, f)
		}
	}
	if len(unknown) > 0 {
		return nil, fieldErr(field, "Unknown %s script(s) or tag(s): %s.", strings.ToLower(strings.TrimSuffix(typ.Label(), " script")), strings.Join(unknown, ", "))
	}
	return out, nil
}
