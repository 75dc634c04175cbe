/*
 * snapshot.h - the engine's scalar state as a flat struct: what a snapshot
 * copies (snapshot.c) and what the state hash covers (state_hash.c).
 */
#ifndef PMC_SNAPSHOT_H
#define PMC_SNAPSHOT_H

#include "engine.h"

/* The scalar part of the engine, copied field by field so pointers never travel. */
struct snap_engine {
	int64_t nr_free;
	int32_t free_head;
	int64_t nr_anon_pages, nr_mlock;
	int32_t lru_head[NR_LRU_LISTS], lru_tail[NR_LRU_LISTS];
	int64_t lru_count[NR_LRU_LISTS];
	int64_t nr_swap, nr_swap_pages, total_swap_pages, inuse_pages;
	int32_t lowest_bit, highest_bit, cluster_next, cluster_nr;
	int64_t swapcache_pages;
	int64_t now;
	struct io_queue io;
	int64_t pages_min, pages_low, pages_high;
	int32_t inactive_ratio, vm_swappiness;
	struct reclaim_stat zone_stat;
	int64_t zone_nr_scan[NR_LRU_LISTS];
	int32_t laptop_mode;
	struct pmc_counters ctr;
};

#define COPY_FIELDS(dst, src) do { \
	(dst)->nr_free = (src)->nr_free; (dst)->free_head = (src)->free_head; \
	(dst)->nr_anon_pages = (src)->nr_anon_pages; (dst)->nr_mlock = (src)->nr_mlock; \
	memcpy((dst)->lru_head, (src)->lru_head, sizeof (src)->lru_head); \
	memcpy((dst)->lru_tail, (src)->lru_tail, sizeof (src)->lru_tail); \
	memcpy((dst)->lru_count, (src)->lru_count, sizeof (src)->lru_count); \
	(dst)->nr_swap = (src)->nr_swap; (dst)->nr_swap_pages = (src)->nr_swap_pages; \
	(dst)->total_swap_pages = (src)->total_swap_pages; (dst)->inuse_pages = (src)->inuse_pages; \
	(dst)->lowest_bit = (src)->lowest_bit; (dst)->highest_bit = (src)->highest_bit; \
	(dst)->cluster_next = (src)->cluster_next; (dst)->cluster_nr = (src)->cluster_nr; \
	(dst)->swapcache_pages = (src)->swapcache_pages; (dst)->now = (src)->now; (dst)->io = (src)->io; \
	(dst)->pages_min = (src)->pages_min; (dst)->pages_low = (src)->pages_low; \
	(dst)->pages_high = (src)->pages_high; (dst)->inactive_ratio = (src)->inactive_ratio; \
	(dst)->vm_swappiness = (src)->vm_swappiness; (dst)->zone_stat = (src)->zone_stat; \
	memcpy((dst)->zone_nr_scan, (src)->zone_nr_scan, sizeof (src)->zone_nr_scan); \
	(dst)->laptop_mode = (src)->laptop_mode; (dst)->ctr = (src)->ctr; \
} while (0)

#endif
