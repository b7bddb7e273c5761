// Command boot-wait sleeps until a moment the lab node fixed at boot, then exits 0. Used as an
// init container (e.g. kube-proxy's, for --kube-proxy-delay): it reads FILE (a JSON object with
// "bootedAtMs" and the millisecond delay named by KEY) from a hostPath the lab writes at every
// boot, and waits until bootedAtMs + delay. A missing file or key means no delay.
package main

import (
	"encoding/json"
	"log"
	"os"
	"time"
)

func main() {
	file := os.Getenv("FILE")
	key := os.Getenv("KEY")
	if file == "" || key == "" {
		log.Fatal("FILE and KEY must be set")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		log.Printf("no boot plan (%v): not waiting", err)
		return
	}
	var plan map[string]float64
	if err := json.Unmarshal(data, &plan); err != nil {
		log.Fatalf("%s: not a JSON object of numbers: %v", file, err)
	}
	delay, ok := plan[key]
	if !ok {
		log.Printf("%s has no %q: not waiting", file, key)
		return
	}
	until := time.UnixMilli(int64(plan["bootedAtMs"] + delay))
	if wait := time.Until(until); wait > 0 {
		log.Printf("waiting %s (until boot + %.0f ms)", wait.Round(time.Millisecond), delay)
		// Bounded: the lab caps delays at 10 min.
		time.Sleep(min(wait, 10*time.Minute))
	}
	log.Printf("done")
}
