package main

import (
	"strings"
	"testing"
)

// A reply captured from a Linux 6.x kernel in a lab node namespace: generation 0x70, pid 0x675f, "gen".
var captured = []byte{
	0x2c, 0x00, 0x00, 0x00, 0x0f, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x5f, 0x67, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x70, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x70, 0x08, 0x00, 0x02, 0x00,
	0x00, 0x00, 0x67, 0x5f, 0x08, 0x00, 0x03, 0x00, 0x67, 0x65, 0x6e, 0x00,
}

func TestParseGenReply(t *testing.T) {
	gen, err := parseGenReply(captured, 1)
	if err != nil || gen != 0x70 {
		t.Fatalf("got %d, %v; want 112", gen, err)
	}
}

func TestParseGenReplyRejects(t *testing.T) {
	errReply := []byte{0x24, 0, 0, 0, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff /* -EPERM */, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	noGen := append([]byte{}, captured[:20]...)
	noGen[0] = 20
	for name, c := range map[string]struct {
		b    []byte
		seq  uint32
		want string
	}{
		"short":        {captured[:10], 1, "short"},
		"other seq":    {captured, 2, "sequence"},
		"kernel error": {errReply, 1, "operation not permitted"},
		"no attribute": {noGen, 1, "no NFTA_GEN_ID"},
		"cut":          {captured[:30], 1, "length"},
	} {
		if _, err := parseGenReply(c.b, c.seq); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}

func TestGetGenRequest(t *testing.T) {
	m := getGenRequest(7)
	if len(m) != 20 || m[0] != 20 || m[4] != 16 || m[5] != 10 || m[8] != 7 {
		t.Fatalf("request % x", m)
	}
}
