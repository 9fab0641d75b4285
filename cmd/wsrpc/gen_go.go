package main

func genGo(a *api, pkg string) ([]byte, error) { return nil, nil }
