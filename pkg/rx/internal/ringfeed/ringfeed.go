//go:build cgo && !nodpdk

// Package ringfeed puts test packets on the ring behind a net_ring vdev, so
// tests of package rx can count exactly what they sent. It runs in the
// process whose EAL made the vdev.
package ringfeed

/*
#cgo pkg-config: libdpdk
#cgo CFLAGS: -O2 -Wall
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

static struct rte_mempool *feed_pool;

static int feed_init(unsigned n)
{
	if (feed_pool)
		return 0;
	feed_pool = rte_pktmbuf_pool_create("ringfeed", n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	return feed_pool ? 0 : -rte_errno;
}

// feed enqueues up to n packets of len bytes on ring r; returns how many.
static int feed(const char *ring, unsigned n, unsigned len)
{
	struct rte_ring *r = rte_ring_lookup(ring);
	struct rte_mbuf *m[64];
	unsigned i, k, done = 0;

	if (!r)
		return -ENOENT;
	if (n > 64)
		n = 64;
	if (rte_pktmbuf_alloc_bulk(feed_pool, m, n) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		char *p = rte_pktmbuf_append(m[i], len);
		if (p)
			memset(p, 0xab, len);
	}
	done = rte_ring_enqueue_burst(r, (void **)m, n, NULL);
	for (k = done; k < n; k++)
		rte_pktmbuf_free(m[k]);
	return done;
}
*/
import "C"

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

// Feed enqueues exactly n packets of size bytes on the ring named ring (for
// a vdev net_ringX, RX queue 0's ring is "ETH_RXTX0_net_ringX"), retrying
// while the ring or the pool is full, within timeout.
func Feed(ring string, n, size int, timeout time.Duration) error {
	if r := C.feed_init(4095); r != 0 {
		return fmt.Errorf("ringfeed pool: %w", syscall.Errno(-r))
	}
	cr := C.CString(ring)
	defer C.free(unsafe.Pointer(cr))
	deadline := time.Now().Add(timeout)
	for sent := 0; sent < n; {
		k := n - sent
		if k > 64 {
			k = 64
		}
		r := int(C.feed(cr, C.uint(k), C.uint(size)))
		if r < 0 {
			return fmt.Errorf("ring %s: %w", ring, syscall.Errno(-r))
		}
		sent += r
		if r == 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("ring %s: %d of %d packets enqueued in %v", ring, sent, n, timeout)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	return nil
}
