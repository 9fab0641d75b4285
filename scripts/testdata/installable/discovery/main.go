// discovery: the OpenRPC document of a registry.
package main

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/discovery"
)

func main() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(p struct {
		A int `json:"a"`
		B int `json:"b"`
	}) int {
		return p.A - p.B
	})
	doc, err := discovery.Document(reg, &discovery.Options{Title: "scratch"})
	if err != nil {
		log.Fatal(err)
	}
	var d struct {
		OpenRPC string `json:"openrpc"`
		Methods []struct {
			Name string `json:"name"`
		} `json:"methods"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		log.Fatal(err)
	}
	for _, m := range d.Methods {
		fmt.Printf("discovery: openrpc %s, method %s\n", d.OpenRPC, m.Name)
	}
}
