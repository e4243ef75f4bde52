package router

import "fmt"

var (
	hostMatchNames = []string{"Any", "Exact", "WildcardOneLabel", "WildcardAnyLabels"}
	pathMatchNames = []string{"Prefix", "Exact", "RegularExpression"}
	protocolNames  = []string{"http", "h2c"}
)

func enumText(names []string, v uint8) ([]byte, error) {
	if int(v) >= len(names) {
		return nil, fmt.Errorf("unknown value %d", v)
	}
	return []byte(names[v]), nil
}

func enumParse(names []string, b []byte) (uint8, error) {
	for i, n := range names {
		if n == string(b) {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("unknown value %q", b)
}

// String names the host match kind.
func (m HostMatch) String() string { b, _ := enumText(hostMatchNames, uint8(m)); return string(b) }

// MarshalText renders the host match kind by name.
func (m HostMatch) MarshalText() ([]byte, error) { return enumText(hostMatchNames, uint8(m)) }

// UnmarshalText parses a host match kind by name.
func (m *HostMatch) UnmarshalText(b []byte) error {
	v, err := enumParse(hostMatchNames, b)
	*m = HostMatch(v)
	return err
}

// MarshalText renders the path match kind by name.
func (m PathMatch) MarshalText() ([]byte, error) { return enumText(pathMatchNames, uint8(m)) }

// UnmarshalText parses a path match kind by name.
func (m *PathMatch) UnmarshalText(b []byte) error {
	v, err := enumParse(pathMatchNames, b)
	*m = PathMatch(v)
	return err
}

// MarshalText renders the protocol by name.
func (p Protocol) MarshalText() ([]byte, error) { return enumText(protocolNames, uint8(p)) }

// UnmarshalText parses a protocol by name.
func (p *Protocol) UnmarshalText(b []byte) error {
	v, err := enumParse(protocolNames, b)
	*p = Protocol(v)
	return err
}

// String names the path match kind.
func (m PathMatch) String() string { b, _ := enumText(pathMatchNames, uint8(m)); return string(b) }

// String names the protocol.
func (p Protocol) String() string { b, _ := enumText(protocolNames, uint8(p)); return string(b) }
