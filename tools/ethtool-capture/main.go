// Command ethtool-capture prints the struct ethtool_rx_flow_spec (hex, 168
// bytes) and rss_context that the real ethtool hands the kernel for
// `ethtool -N DEV WORDS...`, with no network device: ethtool runs under
// ptrace and its SIOCETHTOOL ioctls are answered as by a device with an
// empty 2048-entry table (package capture). It exits 1 when ethtool
// refuses the words, printing ethtool's message.
//
//	go run ./tools/ethtool-capture flow-type tcp4 dst-ip 10.0.0.1 dst-port 80 action 3
package main

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"

	"github.com/vfbypass/vfbypass/tools/ethtool-capture/capture"
)

func main() {
	ethtool := flag.String("ethtool", "ethtool", "the ethtool binary")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ethtool-capture [-ethtool PATH] flow-type ...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	r, err := capture.Run(*ethtool, "capture0", flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ethtool-capture:", err)
		os.Exit(2)
	}
	if !r.Accepted {
		fmt.Fprint(os.Stderr, r.Stderr)
		os.Exit(1)
	}
	// struct ethtool_rxnfc: fs at 16 (168 bytes), rss_context at 184.
	fmt.Println(hex.EncodeToString(r.Rxnfc[16 : 16+168]))
	fmt.Println("rss_context", binary.NativeEndian.Uint32(r.Rxnfc[184:]))
}
