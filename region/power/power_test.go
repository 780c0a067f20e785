package power

import (
	"context"
	"errors"
	"testing"
)

func TestDrivers(t *testing.T) {
	d := Default()
	m, err := d.For("manual")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PowerOn(context.Background(), nil); !errors.Is(err, ErrByHand) {
		t.Errorf("manual power on = %v", err)
	}
	if s, err := m.Query(context.Background(), nil); s != Unknown || err != nil {
		t.Errorf("manual query = %q, %v", s, err)
	}
	if _, err := d.For("ipmi"); !errors.Is(err, ErrByHand) {
		t.Errorf("ipmi without a driver = %v", err)
	}
}
