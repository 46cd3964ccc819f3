/*
 * dvs DPDK shim: out-of-line wrappers for the static-inline DPDK functions the dvs port needs.
 * bindgen cannot bind static inline functions, so each one gets a thin exported wrapper here.
 * The mbuf accessors exist so Rust never depends on the layout of struct rte_mbuf.
 */
#ifndef DVS_DPDK_SHIM_H
#define DVS_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

uint16_t dvs_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n);
uint16_t dvs_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n);

struct rte_mbuf *dvs_pktmbuf_alloc(struct rte_mempool *mp);
int dvs_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count);
void dvs_pktmbuf_free(struct rte_mbuf *m);

/* rte_pktmbuf_mtod(m, void *): the first segment's data. */
void *dvs_pktmbuf_mtod(const struct rte_mbuf *m);
uint32_t dvs_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t dvs_pktmbuf_data_len(const struct rte_mbuf *m);
uint16_t dvs_pktmbuf_nb_segs(const struct rte_mbuf *m);
struct rte_mbuf *dvs_pktmbuf_next(const struct rte_mbuf *m);
/* One segment in one call: its data pointer and length; *next gets the following segment. */
void *dvs_pktmbuf_seg(const struct rte_mbuf *m, uint16_t *data_len, struct rte_mbuf **next);
/* rte_pktmbuf_append: grow the last segment by len bytes; NULL if there is no tailroom. */
void *dvs_pktmbuf_append(struct rte_mbuf *m, uint16_t len);

/* rte_lcore_id(): UINT32_MAX (LCORE_ID_ANY) on threads that are not EAL lcores. */
unsigned int dvs_lcore_id(void);
/* rte_errno of the calling thread. */
int dvs_rte_errno(void);

#endif
