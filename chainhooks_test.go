package wsrpc_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// recordingHooks returns Hooks whose every field appends "name.Field" to
// *log when called; OnConnect returns connectErr.
func recordingHooks(name string, log *[]string, connectErr error) *wsrpc.Hooks {
	var h wsrpc.Hooks
	v := reflect.ValueOf(&h).Elem()
	for i := 0; i < v.NumField(); i++ {
		field := v.Type().Field(i)
		v.Field(i).Set(reflect.MakeFunc(field.Type, func([]reflect.Value) []reflect.Value {
			*log = append(*log, name+"."+field.Name)
			if field.Type.NumOut() == 1 { // OnConnect
				return []reflect.Value{reflect.ValueOf(&connectErr).Elem()}
			}
			return nil
		}))
	}
	return &h
}

// callHook calls the named field of h with zero arguments and returns what
// it returned, nil for a missing hook.
func callHook(h *wsrpc.Hooks, name string) []reflect.Value {
	fn := reflect.ValueOf(h).Elem().FieldByName(name)
	if fn.IsNil() {
		return nil
	}
	args := make([]reflect.Value, fn.Type().NumIn())
	for i := range args {
		args[i] = reflect.Zero(fn.Type().In(i))
	}
	return fn.Call(args)
}

func TestChainHooks(t *testing.T) {
	refused := errors.New("refused")
	fields := reflect.VisibleFields(reflect.TypeOf(wsrpc.Hooks{}))
	tests := []struct {
		name        string
		first, then bool  // whether each side has hooks
		firstErr    error // what first's OnConnect returns
		want        func(field string) []string
		wantErr     error
	}{
		{name: "both nil", want: func(string) []string { return nil }},
		{name: "first only", first: true, want: func(f string) []string { return []string{"first." + f} }},
		{name: "then only", then: true, want: func(f string) []string { return []string{"then." + f} }},
		{name: "first then then", first: true, then: true, want: func(f string) []string {
			return []string{"first." + f, "then." + f}
		}},
		{name: "OnConnect error stops the chain", first: true, then: true, firstErr: refused, wantErr: refused,
			want: func(f string) []string {
				if f == "OnConnect" {
					return []string{"first." + f}
				}
				return []string{"first." + f, "then." + f}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			var first, then *wsrpc.Hooks
			if tt.first {
				first = recordingHooks("first", &log, tt.firstErr)
			}
			if tt.then {
				then = recordingHooks("then", &log, nil)
			}
			h := wsrpc.ChainHooks(first, then)
			if !tt.first && !tt.then {
				require.Nil(t, h)
				return
			}
			for _, f := range fields {
				log = nil
				out := callHook(h, f.Name)
				require.Equal(t, tt.want(f.Name), log, "hook %s", f.Name)
				if f.Name == "OnConnect" {
					err, _ := out[0].Interface().(error)
					require.ErrorIs(t, err, tt.wantErr)
				}
			}
		})
	}
}

func TestChainHooksDoesNotChangeItsArguments(t *testing.T) {
	var log []string
	first := recordingHooks("first", &log, nil)
	then := &wsrpc.Hooks{}
	h := wsrpc.ChainHooks(first, then)
	require.NotSame(t, first, h)
	require.NotSame(t, then, h)
	require.Nil(t, then.OnClose, "then is not changed")
	require.NoError(t, h.OnConnect(context.Background(), nil))
	require.Equal(t, []string{"first.OnConnect"}, log)
}
