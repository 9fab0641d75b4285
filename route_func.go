package wsrpc

import "reflect"

// funcRoute is a plain function registered under a name.
type funcRoute struct {
	name string
	m    *method
}

func newFuncRoute(name string, fn reflect.Value) (*funcRoute, error) {
	s, err := analyse(name, fn, fn.Type(), false)
	if err != nil {
		return nil, err
	}
	return &funcRoute{name: name, m: methodOf(s)}, nil
}
