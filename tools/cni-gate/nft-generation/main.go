// netwarden-nft-generation prints this network namespace's nftables ruleset generation: a counter
// the kernel bumps on every committed ruleset change, by any program (kube-proxy's iptables-nft,
// the VPC CNI, Calico, nft). One netlink request (NFT_MSG_GETGEN) and no rule is fetched, so it
// costs about as much as starting a program; `iptables-nft -S` of one chain of 10,000 rules costs
// a hundred times more. The agent reads it once per steady round and reuses a listing of nftables
// state while the generation stands (src/collect/nft-reads.ts).
//
// Output: `generation <n>` and exit 0; on any failure a message on stderr and exit 1.
// Standard library only, like the boot gate plugin beside it.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// From linux/netfilter/nfnetlink.h and nf_tables.h.
const (
	nfnlSubsysNftables = 10
	nftMsgNewGen       = 15
	nftMsgGetGen       = 16
	nftaGenID          = 1
	nlmsgHdrLen        = 16
	nfgenmsgLen        = 4
)

func main() {
	gen, err := readGeneration(2 * time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "netwarden-nft-generation: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("generation %d\n", gen)
}

// readGeneration asks the kernel for the nftables generation over a netfilter netlink socket.
func readGeneration(timeout time.Duration) (uint32, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_NETFILTER)
	if err != nil {
		return 0, fmt.Errorf("netlink socket: %w", err)
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("netlink timeout: %w", err)
	}
	kernel := &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink bind: %w", err)
	}
	const seq = 1
	if err := syscall.Sendto(fd, getGenRequest(seq), 0, kernel); err != nil {
		return 0, fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 8192)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("netlink receive: %w", err)
	}
	return parseGenReply(buf[:n], seq)
}

// getGenRequest is an nlmsghdr with an nfgenmsg (family unspec, version 0) asking NFT_MSG_GETGEN.
func getGenRequest(seq uint32) []byte {
	msg := make([]byte, nlmsgHdrLen+nfgenmsgLen)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.LittleEndian.PutUint16(msg[4:], nfnlSubsysNftables<<8|nftMsgGetGen)
	binary.LittleEndian.PutUint16(msg[6:], syscall.NLM_F_REQUEST)
	binary.LittleEndian.PutUint32(msg[8:], seq)
	return msg
}

// parseGenReply reads NFTA_GEN_ID from the kernel's NFT_MSG_NEWGEN answer (or its error).
func parseGenReply(b []byte, seq uint32) (uint32, error) {
	if len(b) < nlmsgHdrLen {
		return 0, errors.New("short netlink reply")
	}
	length := binary.LittleEndian.Uint32(b[0:])
	typ := binary.LittleEndian.Uint16(b[4:])
	if int(length) > len(b) || length < nlmsgHdrLen {
		return 0, fmt.Errorf("netlink reply length %d of %d bytes", length, len(b))
	}
	if got := binary.LittleEndian.Uint32(b[8:]); got != seq {
		return 0, fmt.Errorf("netlink reply to sequence %d, not %d", got, seq)
	}
	b = b[:length]
	if typ == syscall.NLMSG_ERROR {
		if len(b) >= nlmsgHdrLen+4 {
			if code := int32(binary.LittleEndian.Uint32(b[nlmsgHdrLen:])); code != 0 {
				return 0, fmt.Errorf("kernel: %v", syscall.Errno(-code))
			}
		}
		return 0, errors.New("kernel answered with an error message")
	}
	if typ != nfnlSubsysNftables<<8|nftMsgNewGen {
		return 0, fmt.Errorf("unexpected netlink message type %#x", typ)
	}
	// Attributes follow the nfgenmsg, each {len u16, type u16, value}, padded to 4 bytes;
	// NFTA_GEN_ID is a big-endian u32.
	for a := b[nlmsgHdrLen+nfgenmsgLen:]; len(a) >= 4; {
		alen := int(binary.LittleEndian.Uint16(a[0:]))
		atype := binary.LittleEndian.Uint16(a[2:]) & 0x3fff
		if alen < 4 || alen > len(a) {
			return 0, errors.New("malformed netlink attribute")
		}
		if atype == nftaGenID && alen == 8 {
			return binary.BigEndian.Uint32(a[4:8]), nil
		}
		next := (alen + 3) &^ 3
		if next >= len(a) {
			break
		}
		a = a[next:]
	}
	return 0, errors.New("no NFTA_GEN_ID in the kernel's reply")
}
