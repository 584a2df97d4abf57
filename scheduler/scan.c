/* scan.c — the placement scan (sched_scan, declared in sched_internal.h): one pass over the hosts'
 * flat arrays that applies the filters, counts each refused host under its first refusing filter,
 * gathers the refusal details and keeps the best hosts by the weigher.
 *
 * How: hosts are taken 64 at a time. Pass 1 runs each per-host test over the block without a
 * branch and records it as one bit per host in a 64-bit mask (gate = blocked or other arch, the
 * first word of wanted features, memory, vCPUs, "could enter the kept hosts"; further feature
 * words, pools, networks and labels in one tight loop per word, only when the request has them).
 * Pass 2 works on whole masks, in filter order: a host's first refusing filter is the first mask
 * holding its bit among those still passing; the avoid list and the group marks are already
 * per-slot bitmaps, so they cost one word per block. Counts are popcounts; details (missing names,
 * shortfalls) and the weigher walk the set bits of the few masks that need them. Hosts are visited
 * in slot order, so ties go to the earlier host.
 *
 * Why: with a per-host "which filter refused it" branch, mixed CPU flags make that branch
 * unpredictable and the per-filter counters form a store-to-load chain; both cost more than the
 * tests themselves (docs/scheduler.md has the figures). test_sched_scan checks the whole answer
 * against a reference written from the documented rules. */
#include <stddef.h>
#include <string.h>

#include "sched_internal.h"

/* ------------------------------------------------------------------------------------------------
 * The kept best hosts: a small fixed array sorted best first, filled by insertion. */

typedef struct {
    size_t slot[DRV_SCHED_MAX_ALTERNATES + 1];
    int64_t score[DRV_SCHED_MAX_ALTERNATES + 1];
    size_t n, want;
    int64_t threshold; /* score a host must beat to enter (INT64_MIN until full) */
} sched_top;

static void s_top_init(sched_top *t, size_t want)
{
    t->n = 0;
    t->want = want;
    t->threshold = INT64_MIN;
}

/* Inserts slot (score > t->threshold) after equal scores, so ties keep the earlier slot. */
static void s_top_insert(sched_top *t, size_t slot, int64_t score)
{
    size_t pos = t->n < t->want ? t->n++ : t->want - 1;
    while (pos > 0 && t->score[pos - 1] < score) {
        t->score[pos] = t->score[pos - 1];
        t->slot[pos] = t->slot[pos - 1];
        pos--;
    }
    t->score[pos] = score;
    t->slot[pos] = slot;
    if (t->n == t->want)
        t->threshold = t->score[t->want - 1];
}

/* ------------------------------------------------------------------------------------------------
 * Bit helpers. In the masks below bit i is host i of a 64-host block. */

static inline size_t s_pop(uint64_t m)
{
    return m ? (size_t)__builtin_popcountll(m) : 0;
}

static inline unsigned s_first(uint64_t m)
{
    return (unsigned)__builtin_ctzll(m);
}

/* A host's arch and block fields as one 32-bit word (they are adjacent). */
_Static_assert(offsetof(sched_hot, block) == offsetof(sched_hot, arch) + sizeof(uint16_t),
               "sched_hot: arch and block must be adjacent");
static inline uint32_t s_gate_word(const sched_hot *h)
{
    uint32_t w;
    memcpy(&w, &h->arch, sizeof(w));
    return w;
}

/* The hosts of a block lacking some bit rb wants in its non-zero words from the `from`-th on (all
 * hosts when rb names something no host has). One tight loop per word. *ret_news = whether a
 * refused host may add a bit to `miss` (NULL = no details wanted): false once the block's lacking
 * bits are all in it already. */
static uint64_t s_block_lacks(const struct sched_req_bits *rb, size_t from,
                              const sched_bitset_table *t, size_t base, unsigned len, uint64_t all,
                              const uint64_t *miss, bool *ret_news)
{
    *ret_news = miss && rb->impossible;
    if (rb->impossible)
        return all;
    uint64_t m = 0;
    for (size_t k = from; k < rb->n_words; k++) {
        const size_t w = rb->words[k];
        const uint64_t want = rb->want[w];
        const uint64_t *row = sched_bits_row(t, base) + w;
        const size_t step = t->stride;
        uint64_t mk = 0, lack_all = 0;
        for (unsigned i = len; i-- > 0;) {
            const uint64_t lack = want & ~row[i * step];
            mk = 2 * mk + (lack != 0);
            lack_all |= lack;
        }
        m |= mk;
        *ret_news = *ret_news || (miss && (lack_all & ~miss[w]));
    }
    return m;
}

static void s_miss_union(uint64_t *miss, const struct sched_req_bits *rb,
                         const sched_bitset_table *t, size_t slot)
{
    if (!miss)
        return;
    const uint64_t *row = sched_bits_row(t, slot);
    for (size_t k = 0; k < rb->n_words; k++) {
        size_t w = rb->words[k];
        miss[w] |= rb->want[w] & ~row[w];
    }
}

/* ------------------------------------------------------------------------------------------------
 * Pass 1. */

/* What the per-host tests compare against, fixed for one scan. */
typedef struct {
    int64_t memory_kib, vcpus;
    uint32_t gate_want, gate_mask; /* refused when (gate word ^ want) & mask: blocked or arch */
    uint64_t feat_want;            /* the inline word of wanted features (0 = none) */
    size_t row_step;               /* its feature row stride (0 = no inline feature test) */
} s_scan_req;

/* One bit per host of a block for each test. */
typedef struct {
    uint64_t gate; /* blocked, or of another arch */
    uint64_t feat; /* lacks a wanted feature */
    uint64_t mem;  /* not enough free memory */
    uint64_t vcpu; /* not enough free vCPUs */
    uint64_t cand; /* free memory beats `lim` (could enter the kept hosts) */
    uint64_t lack; /* union of the inline feature word's lacking bits over the block */
} s_block_bits;

/* The per-host tests of one block, branch-free. Walks the block backwards so that shifting each
 * bit in from the right (2 * bits + bit) leaves host i at bit i. `pack` is a constant at each call
 * site, so the compiler builds one loop per weigher. */
static inline __attribute__((always_inline)) s_block_bits
s_block_tests(const sched_hot *h, const uint64_t *row, unsigned len, const s_scan_req *q,
              int64_t lim, bool pack)
{
    s_block_bits b = {0};
    for (unsigned i = len; i-- > 0;) {
        const int64_t fm = h[i].free_memory_kib;
        const uint64_t lack = q->feat_want & ~row[i * q->row_step];
        b.gate = 2 * b.gate + (((s_gate_word(&h[i]) ^ q->gate_want) & q->gate_mask) != 0);
        b.feat = 2 * b.feat + (lack != 0);
        b.lack |= lack;
        b.mem = 2 * b.mem + (fm < q->memory_kib);
        b.vcpu = 2 * b.vcpu + (h[i].free_vcpus < q->vcpus);
        /* spread: fm - mem > threshold; pack: mem - fm > threshold (see sched_scan) */
        b.cand = 2 * b.cand + (pack ? fm < lim : fm > lim);
    }
    return b;
}

/* ------------------------------------------------------------------------------------------------
 * The scan. */

void sched_scan(const drv_sched_cluster *c, const sched_hot *hot, const sched_prep *p, size_t want,
                sched_scan_out *out, const sched_scan_miss *miss)
{
    static const uint64_t no_features = 0;
    uint64_t *feat_miss = miss ? miss->feat : NULL, *pool_miss = miss ? miss->pool : NULL;
    uint64_t *net_miss = miss ? miss->net : NULL, *label_miss = miss ? miss->label : NULL;
    memset(out->rejected, 0, sizeof(out->rejected));
    out->n_fitting = 0;
    if (want < 1)
        want = 1;
    if (want > DRV_SCHED_MAX_ALTERNATES + 1)
        want = DRV_SCHED_MAX_ALTERNATES + 1;
    sched_top top;
    s_top_init(&top, want);

    const size_t n = c->hosts->len;
    const bool pack = c->cfg.weigher == DRV_SCHED_WEIGHER_PACK;
    /* Features: the first wanted word is tested inline in pass 1 (one word of want against one
     * word per host row; none = a zero word with stride 0); further words, and names no host has,
     * by s_block_lacks(). */
    const bool feat_word = !p->feat.impossible && p->feat.n_words;
    const bool feat_more = p->feat.impossible || p->feat.n_words > 1;
    const size_t feat_w = feat_word ? p->feat.words[0] : 0;
    const uint64_t *rows = feat_word ? c->features.bits + feat_w : &no_features;
    /* The gate word: block must be 0; arch must equal the request's when it names one. An arch
     * no host has (UINT32_MAX) refuses every unblocked host: the whole gate mask is set below. */
    const bool arch_none = p->arch > UINT16_MAX;
    const sched_hot gate_want = {.arch = arch_none ? 0 : (uint16_t)p->arch, .block = 0};
    const sched_hot gate_mask = {.arch = p->arch && !arch_none ? UINT16_MAX : 0,
                                 .block = UINT16_MAX};
    const s_scan_req q = {
        .memory_kib = (int64_t)p->memory_kib,
        .vcpus = (int64_t)p->vcpus,
        .gate_want = s_gate_word(&gate_want),
        .gate_mask = s_gate_word(&gate_mask),
        .feat_want = feat_word ? p->feat.want[feat_w] : 0,
        .row_step = feat_word ? c->features.stride : 0,
    };
    const int64_t mem = q.memory_kib, vcpus = q.vcpus;
    const uint64_t *avoid = p->avoid, *anti = p->anti_marks, *aff = p->aff_marks;
    size_t *rej = out->rejected;
    uint64_t fmiss = 0; /* the inline feature word's missing bits */
    int64_t mshort = INT64_MAX, vshort = INT64_MAX;

    for (size_t base = 0; base < n; base += 64) {
        const sched_hot *h = hot + base;
        const uint64_t *row = rows + base * q.row_step;
        const unsigned len = n - base < 64 ? (unsigned)(n - base) : 64;
        const uint64_t all = len == 64 ? UINT64_MAX : ((uint64_t)1 << len) - 1;
        /* Hosts whose free memory could beat the threshold as it is now: a superset of those
         * that will (it only rises), each re-checked exactly below. Spread: fm - mem > threshold
         * <=> fm > threshold + mem; pack: mem - fm > threshold <=> fm < mem - threshold. */
        int64_t lim = 0;
        const bool any_cand =
            top.n < top.want || (pack ? __builtin_sub_overflow(mem, top.threshold, &lim)
                                      : __builtin_add_overflow(top.threshold, mem, &lim));
        s_block_bits b = pack ? s_block_tests(h, row, len, &q, lim, true)
                              : s_block_tests(h, row, len, &q, lim, false);
        if (any_cand)
            b.cand = UINT64_MAX;
        if (arch_none)
            b.gate = all;
        bool feat_news = false, news;
        if (feat_more)
            b.feat |=
                s_block_lacks(&p->feat, 1, &c->features, base, len, all, feat_miss, &feat_news);

        /* Pass 2: first refusing filter per host, in filter order. */
        const size_t w = base / 64;
        uint64_t pass = all, r, arch_bad = 0;
        for (r = pass & b.gate; r; r &= r - 1) {
            const unsigned i = s_first(r);
            if (h[i].block)
                rej[h[i].block - 1]++; /* DRV_SCHED_FILTER_STATE or _REACHABLE */
            else
                arch_bad |= (uint64_t)1 << i;
        }
        pass &= ~(b.gate & ~arch_bad);
        r = avoid ? pass & avoid[w] : 0;
        rej[DRV_SCHED_FILTER_AVOID] += s_pop(r);
        pass &= ~r;
        r = pass & arch_bad;
        rej[DRV_SCHED_FILTER_ARCH] += s_pop(r);
        pass &= ~r;
        r = pass & b.feat;
        rej[DRV_SCHED_FILTER_FEATURES] += s_pop(r);
        pass &= ~r;
        if (feat_news) {
            for (; r; r &= r - 1)
                s_miss_union(feat_miss, &p->feat, &c->features, base + s_first(r));
        } else if (feat_word && feat_miss && (b.lack & ~fmiss)) { /* else nothing new */
            for (; r; r &= r - 1)
                fmiss |= q.feat_want & ~row[s_first(r) * q.row_step];
        }
        if (p->pool.n_words || p->pool.impossible) {
            r = pass & s_block_lacks(&p->pool, 0, &c->pools, base, len, all, pool_miss, &news);
            rej[DRV_SCHED_FILTER_POOLS] += s_pop(r);
            pass &= ~r;
            for (r = news ? r : 0; r; r &= r - 1)
                s_miss_union(pool_miss, &p->pool, &c->pools, base + s_first(r));
        }
        if (p->net.n_words || p->net.impossible) {
            r = pass & s_block_lacks(&p->net, 0, &c->networks, base, len, all, net_miss, &news);
            rej[DRV_SCHED_FILTER_NETWORKS] += s_pop(r);
            pass &= ~r;
            for (r = news ? r : 0; r; r &= r - 1)
                s_miss_union(net_miss, &p->net, &c->networks, base + s_first(r));
        }
        if (p->label.n_words || p->label.impossible) {
            r = pass & s_block_lacks(&p->label, 0, &c->labels, base, len, all, label_miss, &news);
            rej[DRV_SCHED_FILTER_LABELS] += s_pop(r);
            pass &= ~r;
            for (r = news ? r : 0; r; r &= r - 1)
                s_miss_union(label_miss, &p->label, &c->labels, base + s_first(r));
        }
        r = anti ? pass & anti[w] : 0;
        rej[DRV_SCHED_FILTER_ANTI_AFFINITY] += s_pop(r);
        pass &= ~r;
        r = aff ? pass & ~aff[w] : 0;
        rej[DRV_SCHED_FILTER_AFFINITY] += s_pop(r);
        pass &= ~r;
        r = pass & b.mem;
        rej[DRV_SCHED_FILTER_MEMORY] += s_pop(r);
        pass &= ~r;
        for (; r; r &= r - 1) {
            const int64_t short_kib = mem - h[s_first(r)].free_memory_kib;
            mshort = short_kib < mshort ? short_kib : mshort;
        }
        r = pass & b.vcpu;
        rej[DRV_SCHED_FILTER_VCPUS] += s_pop(r);
        pass &= ~r;
        for (; r; r &= r - 1) {
            const int64_t short_v = vcpus - h[s_first(r)].free_vcpus;
            vshort = short_v < vshort ? short_v : vshort;
        }
        /* The rest fit. The weigher: left = free memory after placement, most first (spread) or
         * least first (pack); walked in slot order so ties keep the earlier host. */
        out->n_fitting += s_pop(pass);
        for (pass &= b.cand; pass; pass &= pass - 1) {
            const unsigned i = s_first(pass);
            const int64_t left = h[i].free_memory_kib - mem;
            const int64_t score = pack ? -left : left;
            if (score > top.threshold)
                s_top_insert(&top, base + i, score);
        }
    }

    if (feat_miss && feat_word)
        feat_miss[feat_w] |= fmiss;
    out->memory_short_kib = mshort == INT64_MAX ? UINT64_MAX : (uint64_t)mshort;
    out->vcpus_short = vshort == INT64_MAX ? UINT64_MAX : (uint64_t)vshort;
    out->n_best = top.n;
    memcpy(out->best, top.slot, top.n * sizeof(top.slot[0]));
    memcpy(out->best_score, top.score, top.n * sizeof(top.score[0]));
}
