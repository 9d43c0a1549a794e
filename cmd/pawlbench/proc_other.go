//go:build !unix

package main

func selfCPUSeconds() float64 { return 0 }
