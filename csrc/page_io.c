/*
 * page_io.c - the swap device's request queue and simulated time
 * (mm/page_io.c, block/blk-core.c congestion; semantics.md K2.11).
 *
 * Simulated time (e->now, ns) advances with every page-step by its cost
 * (engine.h, COST_*).  The
 * device serves one request at a time, in submission order, SWAP_IO_NS
 * each.  Each direction may have NR_REQUESTS in flight; it is congested from
 * the block layer's nr_congestion_on (113) until it drains to
 * nr_congestion_off (103).  A submitter that finds its direction full waits
 * for the oldest request to complete (get_request_wait), inline.  As in the
 * kernel a bio holds no page reference: the swap cache's reference and the
 * page lock (reads) or PG_writeback (writes) keep the page.
 */
#include "engine.h"

#define NR_REQUESTS 128
#define CONGESTION_ON (NR_REQUESTS - NR_REQUESTS / 8 + 1)
#define CONGESTION_OFF (NR_REQUESTS - NR_REQUESTS / 8 - NR_REQUESTS / 16 - 1)

int bdi_write_congested(const pmc_engine *e)
{
	return e->io.congested[IO_WRITE];
}

static void clear_congested(pmc_engine *e, int rw)
{
	if (e->io.inflight[rw] < CONGESTION_OFF)
		e->io.congested[rw] = 0;
}

/* rotate_reclaimable_page: a reclaimed page whose write finished moves to the tail of its zone list. */
static void rotate_reclaimable_page(pmc_engine *e, int32_t pfn)
{
	uint32_t f = e->a.flags[pfn];
	if ((f & (PG_locked | PG_dirty | PG_active | PG_unevictable)) || !(f & PG_lru))
		return;
	move_page_to_zone_tail(e, pfn);   /* 2.6.30's pagevec_move_tail leaves the memcg list alone */
	e->ctr.pgrotated++;
}

/* end_swap_bio_write -> end_page_writeback; end_swap_bio_read -> SetPageUptodate, unlock_page. */
static void end_io(pmc_engine *e, const struct io_req *rq)
{
	int32_t pfn = rq->pfn;
	if (rq->rw == IO_WRITE) {
		if (PageTest(e, pfn, PG_reclaim)) {
			ClearPage(e, pfn, PG_reclaim);
			rotate_reclaimable_page(e, pfn);
		}
		ClearPage(e, pfn, PG_writeback);
		e->ctr.writeback_done++;
	} else {
		SetPage(e, pfn, PG_uptodate);
		ClearPage(e, pfn, PG_locked);
		e->lock_gen++;
	}
	e->io.inflight[rq->rw]--;
	clear_congested(e, rq->rw);
}

/* Complete every request due by now. */
void io_complete_due(pmc_engine *e)
{
	while (io_pending(e) && io_oldest(e)->complete_at <= e->now) {
		struct io_req rq = *io_oldest(e);
		e->io.head = (e->io.head + 1) % IO_RING;
		end_io(e, &rq);
	}
}

/* Let simulated time pass until t, completing what falls due. */
void advance_time(pmc_engine *e, int64_t t)
{
	if (t > e->now)
		e->now = t;
	io_complete_due(e);
}

/* Wait for the oldest request of one direction (or of any, rw < 0); 0 if none is in flight. */
int io_wait_one(pmc_engine *e, int rw)
{
	for (int i = e->io.head; i != e->io.tail; i = (i + 1) % IO_RING)
		if (rw < 0 || e->io.ring[i].rw == rw) {
			advance_time(e, e->io.ring[i].complete_at);
			return 1;
		}
	return 0;
}

/*
 * congestion_wait(WRITE, HZ/10): sleep until a write completes or 100 ms
 * pass, whichever comes first.
 */
void congestion_wait(pmc_engine *e)
{
	int64_t deadline = e->now + CONGESTION_WAIT_NS;
	for (int i = e->io.head; i != e->io.tail; i = (i + 1) % IO_RING)
		if (e->io.ring[i].rw == IO_WRITE) {
			advance_time(e, e->io.ring[i].complete_at < deadline ? e->io.ring[i].complete_at : deadline);
			return;
		}
	advance_time(e, deadline);
}

static void submit_bio(pmc_engine *e, int rw, int32_t pfn)
{
	while (e->io.inflight[rw] >= NR_REQUESTS)
		io_wait_one(e, rw);
	int64_t start = e->io.device_free_at > e->now ? e->io.device_free_at : e->now;
	struct io_req *rq = &e->io.ring[e->io.tail];
	rq->pfn = pfn;
	rq->rw = rw;
	rq->complete_at = start + SWAP_IO_NS;
	e->io.device_free_at = rq->complete_at;
	e->io.tail = (e->io.tail + 1) % IO_RING;
	if (++e->io.inflight[rw] >= CONGESTION_ON)
		e->io.congested[rw] = 1;
}

/*
 * swap_writepage (page locked, dirty cleared by the caller): a slot nobody
 * uses is dropped instead of written (try_to_free_swap, which re-dirties the
 * page).  Otherwise writeback starts and the page is unlocked.
 */
void swap_writepage(pmc_engine *e, int32_t pfn)
{
	if (try_to_free_swap(e, pfn)) {
		unlock_page(e, pfn);
		e->ctr.writepage_freed_swap++;
		return;
	}
	SetPage(e, pfn, PG_writeback);
	unlock_page(e, pfn);
	submit_bio(e, IO_WRITE, pfn);
	e->ctr.pswpout++;
}

/* swap_readpage: the page (locked, in the swap cache) is read; it unlocks when the read completes. */
void swap_readpage(pmc_engine *e, int32_t pfn)
{
	submit_bio(e, IO_READ, pfn);
	e->ctr.pswpin++;
}
