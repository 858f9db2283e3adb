// Command probe answers from inside a pod: "probe dns NAME" resolves NAME through the pod's
// /etc/resolv.conf (Go's own resolver, as a client in the pod would) and prints the addresses;
// "probe http URL" prints the status and body of a GET; "probe spin" burns CPU until stopped
// (the load an autoscaling test needs).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "spin" {
		for {
		}
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: probe dns NAME | probe http URL | probe spin")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch os.Args[1] {
	case "dns":
		resolver := &net.Resolver{PreferGo: true}
		addresses, err := resolver.LookupHost(ctx, os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, address := range addresses {
			fmt.Println(address)
		}
	case "http":
		request, err := http.NewRequestWithContext(ctx, http.MethodGet, os.Args[2], nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		response, err := http.DefaultClient.Do(request)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer response.Body.Close()
		body, _ := io.ReadAll(response.Body)
		fmt.Printf("%d\n%s\n", response.StatusCode, body)
	default:
		fmt.Fprintln(os.Stderr, "unknown probe", os.Args[1])
		os.Exit(2)
	}
}
