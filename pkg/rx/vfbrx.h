/* vfbrx.h: the C half of package rx. Everything that runs per packet or per
 * burst lives in vfbrx.c; Go calls in only to set up, start, stop and read
 * counters. */
#ifndef VFBRX_H
#define VFBRX_H

#include <stdint.h>

#define VFB_CACHE_LINE 64
#define VFB_MAX_BURST 512

/* Per-queue counters. One writer (the lcore polling the queue) stores them
 * with relaxed atomics after each poll; Go loads them the same way while the
 * loop runs. Padded to two cache lines so queues polled by different lcores
 * never share one. */
struct vfb_qstats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t bursts;      /* polls that returned at least one packet */
	uint64_t empty_polls; /* polls that returned nothing */
	uint64_t match_packets;
	uint64_t match_bytes;
	uint64_t pad[10];
} __attribute__((aligned(VFB_CACHE_LINE)));

/* A flow to count separately (0 = any). Addresses and ports in host order. */
struct vfb_match {
	int enabled;
	uint8_t proto;
	uint32_t dst_ip;
	uint16_t dst_port;
	uint32_t src_ip;
	uint16_t src_port;
};

/* What one lcore polls. */
struct vfb_job {
	uint16_t port;
	uint16_t burst;
	uint16_t nq;
	uint16_t queues[128];
	struct vfb_qstats *stats; /* indexed by queue id */
	volatile uint32_t *stop;
	struct vfb_match match;
};

/* Set-up and tear-down helpers; each returns 0 or a negative errno and, on
 * failure, leaves DPDK's message in err (size errlen). */
int vfb_eal_init(int argc, char **argv, char *err, int errlen);
int vfb_eal_cleanup(void);
unsigned vfb_main_lcore(void);
int vfb_worker_lcores(unsigned *out, int max);
int vfb_port_by_name(const char *name, uint16_t *port);
int vfb_port_name(uint16_t port, char *name, int len);
int vfb_port_count(void);

struct vfb_port_cfg {
	uint16_t rxq, txq, rxd, txd;
	uint32_t mbufs, cache;
	int promisc; /* -1 leave, 0 off, 1 on */
	int promisc_result; /* out: 0 done, else negative errno */
	char driver[64];    /* out */
	uint16_t max_rxq;   /* out */
	uint16_t rxd_used;  /* out */
	void *pool;         /* out */
};
int vfb_port_setup(uint16_t port, struct vfb_port_cfg *c, char *err, int errlen);
int vfb_port_stop_close(uint16_t port, void *pool, char *err, int errlen);

struct vfb_port_stats {
	uint64_t ipackets, ibytes, imissed, ierrors, rx_nombuf;
};
int vfb_port_stats(uint16_t port, struct vfb_port_stats *s);

/* Port restarts after a device reset: the RTE_ETH_EVENT_INTR_RESET
 * callback adds one to *count (C memory, read with vfb_read_u32); the link
 * read is rte_eth_link_get_nowait (1 up, 0 down, else a negative errno);
 * the restart is rte_eth_dev_stop then rte_eth_dev_start. */
int vfb_watch_reset(uint16_t port, uint32_t *count);
int vfb_unwatch_reset(uint16_t port, uint32_t *count);
uint32_t vfb_read_u32(const uint32_t *p);
void vfb_add_u32(uint32_t *p, uint32_t v);
int vfb_link(uint16_t port);
int vfb_set_link(uint16_t port, int up);
int vfb_port_restart(uint16_t port, char *err, int errlen);

int vfb_launch(struct vfb_job *j, unsigned lcore);
int vfb_wait(unsigned lcore);
int vfb_rx_loop(void *arg);
void vfb_read_qstats(const struct vfb_qstats *s, uint64_t out[6]);

/* Memory for jobs, counters and the stop flag: ordinary cache-aligned heap
 * memory (no hugepages needed). */
void *vfb_alloc(unsigned long size);
void vfb_free(void *p);
void vfb_set_stop(volatile uint32_t *stop, uint32_t v);

#endif
