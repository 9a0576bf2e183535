//go:build cgo && !nodpdk

/* vfbrx.c: DPDK set-up helpers and the receive loop of package rx. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include "vfbrx.h"

/* set_errf writes a message into err (size errlen) when the caller gave
 * one: every write to err goes through here. */
static void set_errf(char *err, int errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_errf(char *err, int errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* set_err says which call failed and DPDK's text for its errno. */
static void set_err(char *err, int errlen, const char *what, int e)
{
	set_errf(err, errlen, "%s: %s", what, rte_strerror(e));
}

int vfb_eal_init(int argc, char **argv, char *err, int errlen)
{
	/* EAL logs go to stderr, so that stdout stays free for results. */
	rte_openlog_stream(stderr);
	if (rte_eal_init(argc, argv) < 0) {
		int e = rte_errno;
		if (e == 0)
			e = EINVAL;
		set_err(err, errlen, "rte_eal_init", e);
		return -e;
	}
	return 0;
}

int vfb_eal_cleanup(void)
{
	return rte_eal_cleanup();
}

unsigned vfb_main_lcore(void) { return rte_get_main_lcore(); }

int vfb_worker_lcores(unsigned *out, int max)
{
	unsigned lc;
	int n = 0;
	RTE_LCORE_FOREACH_WORKER(lc) {
		if (n < max)
			out[n] = lc;
		n++;
	}
	return n;
}

int vfb_port_count(void) { return rte_eth_dev_count_avail(); }

int vfb_port_by_name(const char *name, uint16_t *port)
{
	return rte_eth_dev_get_port_by_name(name, port);
}

int vfb_port_name(uint16_t port, char *name, int len)
{
	char buf[RTE_ETH_NAME_MAX_LEN];
	int r = rte_eth_dev_get_name_by_port(port, buf);
	if (r == 0)
		snprintf(name, len, "%s", buf);
	return r;
}

int vfb_port_setup(uint16_t port, struct vfb_port_cfg *c, char *err, int errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_mempool *mp;
	char pname[RTE_MEMPOOL_NAMESIZE];
	int socket, r;
	uint16_t q, rxd = c->rxd, txd = c->txd;

	r = rte_eth_dev_info_get(port, &info);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_info_get", -r);
		return r;
	}
	snprintf(c->driver, sizeof(c->driver), "%s", info.driver_name ? info.driver_name : "");
	c->max_rxq = info.max_rx_queues;
	if (c->rxq > info.max_rx_queues) {
		set_errf(err, errlen, "%u RX queues asked, the PMD %s offers %u", c->rxq,
			 c->driver, info.max_rx_queues);
		return -EINVAL;
	}
	if (c->txq > info.max_tx_queues)
		c->txq = info.max_tx_queues;

	memset(&conf, 0, sizeof(conf));
	if (c->rxq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf == 0)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
	}
	r = rte_eth_dev_configure(port, c->rxq, c->txq, &conf);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_configure", -r);
		return r;
	}
	if (rxd == 0)
		rxd = info.default_rxportconf.ring_size ? info.default_rxportconf.ring_size : 1024;
	if (txd == 0)
		txd = info.default_txportconf.ring_size ? info.default_txportconf.ring_size : 512;
	r = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_adjust_nb_rx_tx_desc", -r);
		return r;
	}
	c->rxd_used = rxd;

	socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	snprintf(pname, sizeof(pname), "vfb_mbuf_p%u", port);
	mp = rte_pktmbuf_pool_create(pname, c->mbufs, c->cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (mp == NULL) {
		set_err(err, errlen, "rte_pktmbuf_pool_create", rte_errno);
		return -rte_errno;
	}
	c->pool = mp;
	for (q = 0; q < c->rxq; q++) {
		r = rte_eth_rx_queue_setup(port, q, rxd, socket, NULL, mp);
		if (r != 0) {
			char what[64];
			snprintf(what, sizeof(what), "rte_eth_rx_queue_setup(queue %u, %u descriptors)", q, rxd);
			set_err(err, errlen, what, -r);
			goto fail;
		}
	}
	for (q = 0; q < c->txq; q++) {
		r = rte_eth_tx_queue_setup(port, q, txd, socket, NULL);
		if (r != 0) {
			set_err(err, errlen, "rte_eth_tx_queue_setup", -r);
			goto fail;
		}
	}
	r = rte_eth_dev_start(port);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_start", -r);
		goto fail;
	}
	c->promisc_result = 0;
	if (c->promisc == 1)
		c->promisc_result = rte_eth_promiscuous_enable(port);
	else if (c->promisc == 0)
		c->promisc_result = rte_eth_promiscuous_disable(port);
	return 0;
fail:
	/* The queues set up so far hold the pool (and, with some PMDs, mbufs
	 * of it): stop the port (a no-op unless a start got half-way) and
	 * close it, which releases them, before the pool goes. A port that
	 * will not stop cannot be closed; its pool is then kept, not freed
	 * under it. */
	if (rte_eth_dev_stop(port) != 0)
		return r;
	rte_eth_dev_close(port);
	rte_mempool_free(mp);
	c->pool = NULL;
	return r;
}

int vfb_port_stop_close(uint16_t port, void *pool, char *err, int errlen)
{
	int r = rte_eth_dev_stop(port);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_stop", -r);
		return r;
	}
	r = rte_eth_dev_close(port);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_close", -r);
		return r;
	}
	rte_mempool_free(pool);
	return 0;
}

int vfb_port_stats(uint16_t port, struct vfb_port_stats *s)
{
	struct rte_eth_stats st;
	int r = rte_eth_stats_get(port, &st);
	if (r != 0)
		return r;
	s->ipackets = st.ipackets;
	s->ibytes = st.ibytes;
	s->imissed = st.imissed;
	s->ierrors = st.ierrors;
	s->rx_nombuf = st.rx_nombuf;
	return 0;
}

/* on_reset is the port's RTE_ETH_EVENT_INTR_RESET callback, run on EAL's
 * interrupt thread: igbvf and ixgbevf raise it when the PF's mailbox says
 * the PF reset (E1000_PF_CONTROL_MSG, IXGBE_PF_CONTROL_MSG). It only
 * counts; the restart is the control side's (vfb_port_restart). */
static int on_reset(uint16_t port, enum rte_eth_event_type ev, void *arg, void *ret)
{
	(void)port;
	(void)ev;
	(void)ret;
	__atomic_fetch_add((uint32_t *)arg, 1, __ATOMIC_RELAXED);
	return 0;
}

int vfb_watch_reset(uint16_t port, uint32_t *count)
{
	return rte_eth_dev_callback_register(port, RTE_ETH_EVENT_INTR_RESET, on_reset, count);
}

int vfb_unwatch_reset(uint16_t port, uint32_t *count)
{
	int r;
	/* -EAGAIN: the callback runs right now; it returns at once. */
	while ((r = rte_eth_dev_callback_unregister(port, RTE_ETH_EVENT_INTR_RESET, on_reset, count)) == -EAGAIN)
		rte_pause();
	return r;
}

uint32_t vfb_read_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

void vfb_add_u32(uint32_t *p, uint32_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }

int vfb_link(uint16_t port)
{
	struct rte_eth_link l;
	int r = rte_eth_link_get_nowait(port, &l);
	if (r != 0)
		return r;
	return l.link_status == RTE_ETH_LINK_UP;
}

int vfb_set_link(uint16_t port, int up)
{
	return up ? rte_eth_dev_set_link_up(port) : rte_eth_dev_set_link_down(port);
}

/* vfb_port_restart stops and starts the port with the configuration and
 * queues of its set-up (ethdev keeps them across a stop, and its start
 * restores MAC addresses and promiscuous mode). A VF PMD's start resets the
 * VF (igbvf_dev_start and ixgbevf_dev_start call mac.ops.reset_hw), which
 * sends the PF the VF's reset message: the PF then enables the VF's
 * receive again (igb_vf_reset_msg, ixgbe_vf_reset_msg). */
int vfb_port_restart(uint16_t port, char *err, int errlen)
{
	int r = rte_eth_dev_stop(port);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_stop", -r);
		return r;
	}
	r = rte_eth_dev_start(port);
	if (r != 0) {
		set_err(err, errlen, "rte_eth_dev_start", -r);
		return r;
	}
	return 0;
}

/* match_one reports whether m carries the flow of j->match: Ethernet, at
 * most one VLAN tag, IPv4 without options checks beyond IHL, unfragmented
 * TCP or UDP for ports. */
static inline int match_one(const struct vfb_match *mt, struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), off = sizeof(struct rte_ether_hdr);
	uint16_t et;
	const struct rte_ipv4_hdr *ip;
	uint32_t ihl;

	if (len < off + sizeof(struct rte_ipv4_hdr))
		return 0;
	et = ((const struct rte_ether_hdr *)p)->ether_type;
	if (et == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
		et = *(const uint16_t *)(p + off + 2);
		off += 4;
		if (len < off + sizeof(struct rte_ipv4_hdr))
			return 0;
	}
	if (et != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	ip = (const struct rte_ipv4_hdr *)(p + off);
	if (mt->proto && ip->next_proto_id != mt->proto)
		return 0;
	if (mt->dst_ip && ip->dst_addr != rte_cpu_to_be_32(mt->dst_ip))
		return 0;
	if (mt->src_ip && ip->src_addr != rte_cpu_to_be_32(mt->src_ip))
		return 0;
	if (mt->dst_port || mt->src_port) {
		const uint16_t *ports;
		if (ip->next_proto_id != IPPROTO_UDP && ip->next_proto_id != IPPROTO_TCP)
			return 0;
		if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK))
			return 0;
		ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
		if (len < off + ihl + 4)
			return 0;
		ports = (const uint16_t *)(p + off + ihl);
		if (mt->src_port && ports[0] != rte_cpu_to_be_16(mt->src_port))
			return 0;
		if (mt->dst_port && ports[1] != rte_cpu_to_be_16(mt->dst_port))
			return 0;
	}
	return 1;
}

/* free_counted frees a burst and returns its bytes, in one pass over the
 * mbufs: single-segment mbufs of the burst's first pool go back to the pool
 * in one rte_mempool_put_bulk (what rte_pktmbuf_free_bulk does), anything
 * else through rte_pktmbuf_free. Summing the lengths in a pass of its own
 * cost about a tenth of the rate on net_null. */
static inline uint64_t free_counted(struct rte_mbuf **pkts, uint16_t n)
{
	void *batch[VFB_MAX_BURST];
	struct rte_mempool *pool = pkts[0]->pool;
	uint64_t bytes = 0;
	unsigned k = 0;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		bytes += rte_pktmbuf_pkt_len(m);
		if (likely(m->next == NULL && m->pool == pool)) {
			m = rte_pktmbuf_prefree_seg(m);
			if (likely(m != NULL))
				batch[k++] = m;
		} else {
			rte_pktmbuf_free(m);
		}
	}
	if (k)
		rte_mempool_put_bulk(pool, batch, k);
	return bytes;
}

#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

/* vfb_rx_loop polls the job's queues until *stop becomes non-zero. It is the
 * function rte_eal_remote_launch runs on a worker lcore; on the main lcore Go
 * calls it directly. */
int vfb_rx_loop(void *arg)
{
	struct vfb_job *j = arg;
	struct rte_mbuf *pkts[VFB_MAX_BURST];
	const uint16_t port = j->port, burst = j->burst, nq = j->nq;
	const int matching = j->match.enabled;
	uint16_t i, k;

	/* One queue, no matching: the common case, kept as short as testpmd's
	 * rxonly loop; the counters live in registers and are only stored. */
	if (nq == 1 && !matching) {
		const uint16_t q = j->queues[0];
		struct vfb_qstats *s = &j->stats[q];
		uint64_t pk = s->packets, by = s->bytes, bu = s->bursts, em = s->empty_polls;

		while (!__atomic_load_n(j->stop, __ATOMIC_RELAXED)) {
			const uint16_t n = rte_eth_rx_burst(port, q, pkts, burst);
			if (n == 0) {
				STORE(s->empty_polls, ++em);
				continue;
			}
			by += free_counted(pkts, n);
			pk += n;
			STORE(s->packets, pk);
			STORE(s->bytes, by);
			STORE(s->bursts, ++bu);
		}
		return 0;
	}

	while (!__atomic_load_n(j->stop, __ATOMIC_RELAXED)) {
		for (k = 0; k < nq; k++) {
			const uint16_t q = j->queues[k];
			struct vfb_qstats *s = &j->stats[q];
			const uint16_t n = rte_eth_rx_burst(port, q, pkts, burst);
			uint64_t bytes;

			if (n == 0) {
				STORE(s->empty_polls, s->empty_polls + 1);
				continue;
			}
			if (unlikely(matching)) {
				uint64_t mp = 0, mb = 0;
				for (i = 0; i < n; i++) {
					if (match_one(&j->match, pkts[i])) {
						mp++;
						mb += rte_pktmbuf_pkt_len(pkts[i]);
					}
				}
				STORE(s->match_packets, s->match_packets + mp);
				STORE(s->match_bytes, s->match_bytes + mb);
			}
			bytes = free_counted(pkts, n);
			STORE(s->packets, s->packets + n);
			STORE(s->bytes, s->bytes + bytes);
			STORE(s->bursts, s->bursts + 1);
		}
	}
	return 0;
}

int vfb_launch(struct vfb_job *j, unsigned lcore)
{
	return rte_eal_remote_launch(vfb_rx_loop, j, lcore);
}

int vfb_wait(unsigned lcore) { return rte_eal_wait_lcore(lcore); }

void vfb_read_qstats(const struct vfb_qstats *s, uint64_t out[6])
{
	out[0] = __atomic_load_n(&s->packets, __ATOMIC_RELAXED);
	out[1] = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
	out[2] = __atomic_load_n(&s->bursts, __ATOMIC_RELAXED);
	out[3] = __atomic_load_n(&s->empty_polls, __ATOMIC_RELAXED);
	out[4] = __atomic_load_n(&s->match_packets, __ATOMIC_RELAXED);
	out[5] = __atomic_load_n(&s->match_bytes, __ATOMIC_RELAXED);
}

void *vfb_alloc(unsigned long size)
{
	void *p = NULL;
	if (posix_memalign(&p, VFB_CACHE_LINE, size) != 0)
		return NULL;
	memset(p, 0, size);
	return p;
}

void vfb_free(void *p) { free(p); }

void vfb_set_stop(volatile uint32_t *stop, uint32_t v)
{
	__atomic_store_n(stop, v, __ATOMIC_RELEASE);
}
