package publisher

import (
	"bufio"
	"bytes"
	"testing"
)

func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", // masked "Hello"
		"\x89\x80\x00\x00\x00\x00",                     // ping
		"\x88\x82\x00\x00\x00\x00\x03\xe8",             // close 1000
		"\x82\xfe\x01\x00\x00\x00\x00\x00",             // 256-byte binary, truncated
		"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff",     // absurd length
		"\x81\x05hello",                                // unmasked
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		for range 4 {
			fr, err := readFrame(br, 1<<10)
			if err != nil {
				return
			}
			if fr.Op >= 0x8 && len(fr.Payload) > 125 {
				t.Fatalf("control frame with %d bytes", len(fr.Payload))
			}
		}
	})
}
