// Command api-client does what a controller or an app talking to the Kubernetes API does. Every
// INTERVAL_MS (2000) it resolves TARGET (kubernetes.default.svc, through the pod's resolv.conf
// and the cluster DNS) and asks GET /readyz over TLS on PORT (443). When it cannot connect within
// CONNECT_TIMEOUT_MS (3000) it says why and exits 1: the CrashLoopBackOff seen in the field. A
// failed DNS lookup also exits 1, with its own message. After the first answer it listens on
// HEALTH_PORT (8081), which its readiness probe checks.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"time"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envMs(name string, def int) time.Duration {
	n, err := strconv.Atoi(env(name, strconv.Itoa(def)))
	if err != nil || n <= 0 {
		log.Fatalf("%s: %q is not a positive number of milliseconds", name, os.Getenv(name))
	}
	return time.Duration(n) * time.Millisecond
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.LUTC)
	target := env("TARGET", "kubernetes.default.svc")
	port := env("PORT", "443")
	healthPort := env("HEALTH_PORT", "8081")
	interval := envMs("INTERVAL_MS", 2000)
	timeout := envMs("CONNECT_TIMEOUT_MS", 3000)
	healthy := false
	for {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		addrs, err := net.DefaultResolver.LookupIP(ctx, "ip4", target)
		cancel()
		if err != nil || len(addrs) == 0 {
			log.Printf("DNS lookup of %s failed: %v", target, err)
			os.Exit(1)
		}
		ip := addrs[0].String()
		status, err := readyz(ip, port, target, timeout)
		if err != nil {
			log.Printf("%s resolved to %s, but %v", target, ip, err)
			os.Exit(1)
		}
		log.Printf("%s (%s) answered: %s", target, ip, status)
		if !healthy {
			healthy = true
			go serveHealth(healthPort)
		}
		time.Sleep(interval)
	}
}

func readyz(ip, port, target string, timeout time.Duration) (string, error) {
	addr := net.JoinHostPort(ip, port)
	d := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(d, "tcp4", addr, &tls.Config{ServerName: target, InsecureSkipVerify: true})
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(conn, "GET /readyz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read from %s: %w", addr, err)
	}
	return line[:len(line)-min(len(line), 2)], nil
}

func serveHealth(port string) {
	ln, err := net.Listen("tcp4", "0.0.0.0:"+port)
	if err != nil {
		log.Fatalf("listen on :%s: %v", port, err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		fmt.Fprintln(c, "ok")
		c.Close()
	}
}
