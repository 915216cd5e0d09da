package xmlrpc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// DecodeResponse reads a methodResponse: its value, or a *Fault as error.
// It is the client side of the codec, for tests and tools.
func DecodeResponse(data []byte, lim Limits) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("xmlrpc: response is not valid UTF-8")
	}
	d := &decoder{lim: lim, dec: xml.NewDecoder(bytes.NewReader(data))}
	d.dec.Strict = true
	if err := d.expectStart("methodResponse"); err != nil {
		return nil, err
	}
	tok, err := d.next()
	if err != nil {
		return nil, err
	}
	se, ok := tok.(xml.StartElement)
	if !ok {
		return nil, fmt.Errorf("xmlrpc: unexpected %s", describe(tok))
	}
	switch se.Name.Local {
	case "fault":
		if err := d.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := d.value(1)
		if err != nil {
			return nil, err
		}
		m, _ := v.(map[string]any)
		code, _ := m["faultCode"].(int64)
		msg, _ := m["faultString"].(string)
		return nil, &Fault{Code: int(code), String: msg}
	case "params":
		ps, err := d.params()
		if err != nil {
			return nil, err
		}
		if len(ps) != 1 {
			return nil, fmt.Errorf("xmlrpc: response has %d params", len(ps))
		}
		if err := d.expectEnd("methodResponse"); err != nil {
			return nil, err
		}
		if _, err := d.next(); err != io.EOF {
			return nil, errors.New("xmlrpc: trailing data after </methodResponse>")
		}
		return ps[0], nil
	}
	return nil, fmt.Errorf("xmlrpc: unexpected <%s>", se.Name.Local)
}
