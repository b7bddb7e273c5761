// Command tcp-server listens on $PORT (default 8080) and answers every connection with one line
// "hello from <POD_NAME>" before closing it. It runs until killed.
package main

import (
	"fmt"
	"log"
	"net"
	"os"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	name := os.Getenv("POD_NAME")
	if name == "" {
		name = "tcp-server"
	}
	ln, err := net.Listen("tcp4", "0.0.0.0:"+port)
	if err != nil {
		log.Fatalf("listen on :%s: %v", port, err)
	}
	log.Printf("listening on :%s", port)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			fmt.Fprintf(c, "hello from %s\n", name)
		}(c)
	}
}
