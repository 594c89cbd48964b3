// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line twins of static inline kernel functions for the Rust side of
 * ipvs_rs (see include/ipvs_helpers.h). They stay short on purpose: the
 * logic lives in Rust. The longest ones fill C structures Rust has no
 * bindings for (conntrack tuples, routes).
 */
#include <kunit/test.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/rculist.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/ip.h>
#include <net/icmp.h>
#include <net/ip6_route.h>
#include <linux/icmpv6.h>
#include <net/route.h>
#include <net/dst.h>
#include <net/addrconf.h>
#include <linux/inetdevice.h>
#include <net/ip_tunnels.h>
#include <net/gre.h>
#include <net/gue.h>
#include <uapi/linux/ip_vs.h>
#include <net/ip6_checksum.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/netfilter/nf_conntrack_expect.h>
#include <net/netfilter/nf_conntrack_seqadj.h>
#include <net/netfilter/nf_nat_helper.h>
#include <net/sctp/checksum.h>
#include <net/gso.h>
#include <net/netfilter/ipv6/nf_defrag_ipv6.h>
#include <linux/igmp.h>
#include <linux/in6.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/udp.h>
#include <net/ipv6.h>
#include <net/udp.h>

#include "ipvs_helpers.h"

/* kapi/pernet.rs reads the slots inside a hook's RCU read side itself. */
static_assert(offsetof(struct net_generic, ptr) == 0);

void *ipvs_rs_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

bool ipvs_rs_net_is_init(const struct net *net)
{
	return net_eq(net, &init_net);
}

bool ipvs_rs_net_user_ns_is_init(const struct net *net)
{
	return net->user_ns == &init_user_ns;
}

/*
 * Whether addr (af's, as union nf_inet_addr) may be a new real server's
 * address (ip_vs_new_dest): unicast or local in net's routing tables;
 * IPv6 link-local only if local. Atomic context is fine.
 */
bool ipvs_rs_unicast_or_local(struct net *net, bool ipv6, const void *addr)
{
	unsigned int atype;
	__be32 a4;

	if (ipv6) {
#if IS_ENABLED(CONFIG_IPV6)
		struct flowi6 fl6 = { .daddr = *(const struct in6_addr *)addr };
		struct dst_entry *dst;
		bool local;

		atype = ipv6_addr_type(&fl6.daddr);
		if ((atype & IPV6_ADDR_UNICAST) && !(atype & IPV6_ADDR_LINKLOCAL))
			return true;
		dst = ip6_route_output(net, NULL, &fl6);
		local = !dst->error && dst->dev && (dst->dev->flags & IFF_LOOPBACK);
		dst_release(dst);
		return local;
#else
		return false;
#endif
	}
	memcpy(&a4, addr, sizeof(a4));
	atype = inet_addr_type(net, a4);
	return atype == RTN_LOCAL || atype == RTN_UNICAST;
}

/*
 * Whether addr is a unicast address of another host (ip_vs_addr_is_unicast,
 * for cache_bypass): IPv4 by net's routing tables, IPv6 by its type.
 */
bool ipvs_rs_addr_is_unicast(struct net *net, bool ipv6, const void *addr)
{
	__be32 a4;

	if (ipv6) {
#if IS_ENABLED(CONFIG_IPV6)
		return ipv6_addr_type(addr) & IPV6_ADDR_UNICAST;
#else
		return false;
#endif
	}
	memcpy(&a4, addr, sizeof(a4));
	return inet_addr_type(net, a4) == RTN_UNICAST;
}

/*
 * The route to daddr without a cache (a packet going where it was sent,
 * cache_bypass): 0 with a referenced route in *dst, 1 if daddr is this
 * host's, or an errno.
 */
int ipvs_rs_route_plain(struct net *net, bool ipv6, const void *daddr,
			struct dst_entry **dst)
{
	if (ipv6) {
#if IS_ENABLED(CONFIG_IPV6)
		struct flowi6 fl6 = { .daddr = *(const struct in6_addr *)daddr };
		struct dst_entry *d = ip6_route_output(net, NULL, &fl6);
		int err = d->error;

		if (err || (d->dev && (d->dev->flags & IFF_LOOPBACK))) {
			dst_release(d);
			return err ?: 1;
		}
		*dst = d;
		return 0;
#else
		return -EAFNOSUPPORT;
#endif
	} else {
		struct flowi4 fl4 = {};
		struct rtable *rt;

		memcpy(&fl4.daddr, daddr, sizeof(fl4.daddr));
		rt = ip_route_output_key(net, &fl4);
		if (IS_ERR(rt))
			return PTR_ERR(rt);
		if (rt->rt_flags & RTCF_LOCAL) {
			ip_rt_put(rt);
			return 1;
		}
		*dst = &rt->dst;
		return 0;
	}
}

struct net *ipvs_rs_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

static int conn_tab_bits = 26;
module_param(conn_tab_bits, int, 0444);
MODULE_PARM_DESC(conn_tab_bits,
		 "Largest connection table, as a power of two (8..27; default 26: 4M connections at conn_lfactor -4; at most 1/16 of RAM)");

int ipvs_rs_conn_tab_bits(void)
{
	return conn_tab_bits;
}

unsigned long ipvs_rs_totalram_pages(void)
{
	return totalram_pages();
}

/* Free and buffer pages, as stock's update_defense_level counts them. */
unsigned long ipvs_rs_avail_pages(void)
{
	struct sysinfo i;

	si_meminfo(&i);
	return i.freeram + i.bufferram;
}

const char *ipvs_rs_module_name(const struct module *mod)
{
	return mod->name;
}

int ipvs_rs_notifier_from_errno(int err)
{
	return notifier_from_errno(err);
}

struct module *ipvs_rs_this_module(void)
{
	return THIS_MODULE;
}

int ipvs_rs_proc_create(struct net *net, const char *name, umode_t mode,
			int (*show)(struct seq_file *seq, void *v))
{
	return proc_create_net_single(name, mode, net->proc_net, show, NULL) ?
		0 : -ENOMEM;
}

/*
 * /proc/net files listed in parts (the connection tables): a record is
 * what walk() writes from a position on (a range of the table), and the
 * seq_file position is that position + 1 (0: the header). Nothing is
 * held between two records, so a listing of any size neither keeps a
 * lock nor an RCU read side across reads, and resumes where it stopped.
 */
struct ipvs_rs_walk_state {
	struct seq_net_private p;	/* first: seq_file_net() */
	u64 cur;	/* the record being shown: position + 1, 0 the header */
	u64 next;	/* after showing it: where the next begins, + 1 */
};

/* Positions are below 2^32: this one is past the end. */
#define IPVS_RS_WALK_END ((1ULL << 32) + 1)

static void *ipvs_rs_walk_start(struct seq_file *seq, loff_t *pos)
{
	struct ipvs_rs_walk_state *st = seq->private;

	if (*pos < 0 || *pos >= IPVS_RS_WALK_END)
		return NULL;
	st->cur = *pos;
	return st;
}

static void *ipvs_rs_walk_next(struct seq_file *seq, void *v, loff_t *pos)
{
	struct ipvs_rs_walk_state *st = seq->private;

	*pos = st->cur == 0 ? 1 : st->next;
	return ipvs_rs_walk_start(seq, pos);
}

static void ipvs_rs_walk_stop(struct seq_file *seq, void *v)
{
}

static int ipvs_rs_walk_show(struct seq_file *seq, void *v)
{
	const struct ipvs_rs_walk_ops *ops = pde_data(file_inode(seq->file));
	struct ipvs_rs_walk_state *st = seq->private;
	struct net *net = seq_file_net(seq);

	if (st->cur == 0) {
		ops->header(seq, net);
		return 0;
	}
	st->next = ops->records(seq, net, st->cur - 1) + 1;
	return 0;
}

static const struct seq_operations ipvs_rs_walk_seq_ops = {
	.start = ipvs_rs_walk_start,
	.next = ipvs_rs_walk_next,
	.stop = ipvs_rs_walk_stop,
	.show = ipvs_rs_walk_show,
};

int ipvs_rs_proc_create_walk(struct net *net, const char *name, umode_t mode,
			     const struct ipvs_rs_walk_ops *ops)
{
	return proc_create_net_data(name, mode, net->proc_net,
				    &ipvs_rs_walk_seq_ops,
				    sizeof(struct ipvs_rs_walk_state),
				    (void *)ops) ? 0 : -ENOMEM;
}

void ipvs_rs_proc_remove(struct net *net, const char *name)
{
	remove_proc_entry(name, net->proc_net);
}

struct net *ipvs_rs_seq_net(struct seq_file *seq)
{
	return seq_file_single_net(seq);
}

void ipvs_rs_rcu_read_lock(void)
{
	rcu_read_lock();
}

void ipvs_rs_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void *ipvs_rs_skb_header_pointer(const struct sk_buff *skb, int offset,
				 int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

unsigned int ipvs_rs_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

struct sk_buff *ipvs_rs_alloc_skb(unsigned int len)
{
	struct sk_buff *skb = alloc_skb(len, GFP_KERNEL);

	if (skb)
		skb_reset_network_header(skb);
	return skb;
}

void ipvs_rs_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

struct sk_buff *ipvs_rs_genlmsg_new(void)
{
	/* Replies are built under the table's BH spinlock. */
	return genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_ATOMIC);
}

void ipvs_rs_nlmsg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

void *ipvs_rs_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info,
				const struct genl_family *family, u8 cmd)
{
	return genlmsg_put_reply(skb, info, family, 0, cmd);
}

void *ipvs_rs_genlmsg_put_dump(struct sk_buff *skb,
			       struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
			   cb->nlh->nlmsg_seq, genl_info_dump(cb)->family,
			   NLM_F_MULTI, cmd);
}

void ipvs_rs_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void ipvs_rs_genlmsg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int ipvs_rs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

struct nlattr *ipvs_rs_genl_info_attr(const struct genl_info *info,
				      unsigned int type)
{
	return info->attrs[type];
}

void ipvs_rs_genl_set_err_msg(struct genl_info *info, const char *msg)
{
	/* msg must be static: extack keeps the pointer (as NL_SET_ERR_MSG). */
	if (info->extack)
		info->extack->_msg = msg;
}

int ipvs_rs_nla_put(struct sk_buff *skb, int type, int len, const void *data)
{
	return nla_put(skb, type, len, data);
}

struct nlattr *ipvs_rs_nla_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start_noflag(skb, type);
}

void ipvs_rs_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

void ipvs_rs_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_cancel(skb, start);
}

int ipvs_rs_nla_len(const struct nlattr *nla)
{
	return nla_len(nla);
}

const void *ipvs_rs_nla_data(const struct nlattr *nla)
{
	return nla_data(nla);
}

long *ipvs_rs_netlink_cb_args(struct netlink_callback *cb)
{
	return cb->args;
}

const void *ipvs_rs_genl_dump_attrs(struct netlink_callback *cb, int *len)
{
	int plen = nlmsg_len(cb->nlh) - GENL_HDRLEN;

	*len = plen > 0 ? plen : 0;
	return (const u8 *)nlmsg_data(cb->nlh) + GENL_HDRLEN;
}

int ipvs_rs_nla_put_u64(struct sk_buff *skb, int type, u64 value, int pad)
{
	return nla_put_u64_64bit(skb, type, value, pad);
}

u8 ipvs_rs_genl_info_cmd(const struct genl_info *info)
{
	return info->genlhdr->cmd;
}

const struct genl_family *ipvs_rs_genl_info_family(const struct genl_info *info)
{
	return info->family;
}

const struct genl_info *ipvs_rs_genl_dump_info(struct netlink_callback *cb)
{
	return genl_info_dump(cb);
}

struct net *ipvs_rs_netlink_cb_net(const struct netlink_callback *cb)
{
	return sock_net(cb->skb->sk);
}

void ipvs_rs_kunit_fail(struct kunit *test, const char *file, int line,
			const char *msg)
{
	const struct kunit_loc loc = { .file = file, .line = line };
	const struct kunit_fail_assert assertion = {};

	__kunit_do_failed_assertion(test, &loc, KUNIT_EXPECTATION,
				    &assertion.assert, kunit_fail_assert_format,
				    "%s", msg);
}

/* Locks, timers, RCU lists: the connection table's primitives. */

void ipvs_rs_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void ipvs_rs_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

/*
 * Conntrack (stock ip_vs_nfct.c and ip_vs_notrack). The module leaves
 * conntrack alone unless the "conntrack" sysctl asks for it.
 */

/* Takes the packet out of conntrack's view (IPVS forwards it). */
/* kapi/skb.rs tests skb->_nfct against this without a call. */
static_assert(NFCT_INFOMASK == 7);

void ipvs_rs_ct_untrack(struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (ct) {
		nf_conntrack_put(&ct->ct_general);
		nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
	}
}

/* Whether the packet belongs to a conntrack entry already confirmed. */
/* Whether the @proto message at @offset (from skb->data) checks out, as
 * stock's ip_vs_checksum_common_check and tcp_csum_check: not looked at
 * when the device or the stack validated it, or the packet is locally
 * made. */
bool ipvs_rs_l4_checksum_ok(struct sk_buff *skb, unsigned int offset, u8 proto, bool ipv6)
{
	if (skb_csum_unnecessary(skb) || !skb->dev)
		return true;
	return !nf_checksum(skb, NF_INET_LOCAL_IN, offset, proto,
			    ipv6 ? AF_INET6 : AF_INET);
}

bool ipvs_rs_ct_confirmed(const struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	return ct && nf_ct_is_confirmed(ct);
}

/*
 * A NAT connection's packet in the original direction: the entry, not yet
 * confirmed, expects its reply from the real server (from_server) or
 * addressed to the virtual service; the original tuple stays. With
 * seqadj, the entry gets room for sequence adjustment (stock: for
 * connections with an application helper).
 */
void ipvs_rs_ct_alter_reply(struct sk_buff *skb, bool from_server,
			    const u8 *addr, __be16 port, bool seqadj)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	struct nf_conntrack_tuple t;
	bool ports;

	if (!ct || nf_ct_is_confirmed(ct) || nf_ct_is_dying(ct) ||
	    CTINFO2DIR(ctinfo) != IP_CT_DIR_ORIGINAL)
		return;
	/* A helper may change the payload's length: conntrack adjusts the
	 * sequence numbers, which needs room in the entry before it is
	 * confirmed. */
	if (seqadj && nf_ct_protonum(ct) == IPPROTO_TCP &&
	    !nfct_seqadj(ct) && !nfct_seqadj_ext_add(ct))
		return;
	t = ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	ports = t.dst.protonum != IPPROTO_ICMP &&
		t.dst.protonum != IPPROTO_ICMPV6;
	if (from_server) {
		memcpy(&t.src.u3, addr, sizeof(t.src.u3));
		if (ports)
			t.src.u.all = port;
	} else {
		memcpy(&t.dst.u3, addr, sizeof(t.dst.u3));
		if (ports)
			t.dst.u.all = port;
	}
	nf_conntrack_alter_reply(ct, &t);
}

/*
 * Replaces the packet's confirmed (old) entry by a new one built from the
 * packet, as conntrack would for a first packet; the old one is killed.
 * Returns the verdict of nf_conntrack_in (NF_ACCEPT normally).
 */
unsigned int ipvs_rs_ct_renew(struct sk_buff *skb,
			      const struct nf_hook_state *state)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (!ct || !nf_ct_is_confirmed(ct))
		return NF_ACCEPT;
	nf_ct_kill(ct);
	nf_conntrack_put(&ct->ct_general);
	nf_ct_set(skb, NULL, 0);
	return nf_conntrack_in(skb, state);
}

/*
 * Kills the entry of an expired connection (ip_vs_conn_drop_conntrack):
 * client -> virtual service in the original direction.
 */
void ipvs_rs_ct_drop(struct net *net, u16 af, u8 protocol,
		     const u8 *caddr, __be16 cport,
		     const u8 *vaddr, __be16 vport)
{
	struct nf_conntrack_tuple t = {
		.dst = { .protonum = protocol, .dir = IP_CT_DIR_ORIGINAL },
	};
	struct nf_conntrack_tuple_hash *h;
	struct nf_conn *ct;

	if (!cport)
		return;
	memcpy(&t.src.u3, caddr, sizeof(t.src.u3));
	memcpy(&t.dst.u3, vaddr, sizeof(t.dst.u3));
	t.src.u.all = cport;
	t.dst.u.all = vport;
	t.src.l3num = af;
	h = nf_conntrack_find_get(net, &nf_ct_zone_dflt, &t);
	if (!h)
		return;
	ct = nf_ct_tuplehash_to_ctrack(h);
	nf_ct_kill(ct);
	nf_ct_put(ct);
}

/* The first word of the possible-CPU mask (est_cpulist's default). */
unsigned long ipvs_rs_possible_cpus(void)
{
	return cpumask_bits(cpu_possible_mask)[0];
}

void ipvs_rs_timer_setup(struct timer_list *timer,
			 void (*fn)(struct timer_list *))
{
	timer_setup(timer, fn, 0);
}

struct kmem_cache *ipvs_rs_cache_create(const char *name, unsigned int size,
					 unsigned int align)
{
	return kmem_cache_create(name, size, align, 0, NULL);
}

/* Packet path: GFP_ATOMIC. */
void *ipvs_rs_cache_alloc_atomic(struct kmem_cache *cache)
{
	return kmem_cache_alloc(cache, GFP_ATOMIC);
}

void ipvs_rs_work_init(struct work_struct *work, work_func_t fn)
{
	INIT_WORK(work, fn);
}

/* Long-running maintenance (table resizes): the unbound queue, as stock. */
bool ipvs_rs_work_queue(struct work_struct *work)
{
	return queue_work(system_unbound_wq, work);
}

/* Packet surgery and transmission. */

int ipvs_rs_skb_ensure_writable(struct sk_buff *skb, unsigned int len)
{
	return skb_ensure_writable(skb, len);
}

/*
 * The SCTP CRC32c of the whole packet, its common header at @off from
 * skb->data and writable (sctp_nat_csum). GSO packets get theirs when
 * segmented.
 */
void ipvs_rs_sctp_set_checksum(struct sk_buff *skb, unsigned int off)
{
	struct sctphdr *sh = (struct sctphdr *)(skb->data + off);

	if (skb_is_gso(skb))
		return;
	sh->checksum = sctp_compute_cksum(skb, off);
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

/*
 * A real server's route (stock: struct ip_vs_dest_dst). An entry is
 * replaced whole and freed a grace period later, so packets use its route
 * without taking a reference while their hook runs under RCU.
 */
struct ipvs_rs_dest_dst {
	struct dst_entry *dst;	/* one reference */
	u32 cookie;		/* IPv6: for dst_check */
	__be32 saddr;		/* IPv4: the source the route picks */
	bool local;		/* the real server is this host */
	bool known_nh;		/* looked up with the real server as next hop */
	struct rcu_head rcu;
};

static void ipvs_rs_dest_dst_free(struct rcu_head *head)
{
	struct ipvs_rs_dest_dst *dd =
		container_of(head, struct ipvs_rs_dest_dst, rcu);

	dst_release(dd->dst);
	kfree(dd);
}

/* Empties the cache (its entry goes after a grace period). */
void ipvs_rs_route_cache_reset(struct ipvs_rs_route_cache *c)
{
	struct ipvs_rs_dest_dst *old;

	old = unrcu_pointer(xchg(&c->cur, RCU_INITIALIZER(NULL)));
	if (old)
		call_rcu(&old->rcu, ipvs_rs_dest_dst_free);
}

/* The cached entry for known_nh if still valid; under RCU. */
static struct ipvs_rs_dest_dst *
ipvs_rs_dest_dst_get(struct ipvs_rs_route_cache *c, bool known_nh)
{
	struct ipvs_rs_dest_dst *dd = rcu_dereference(c->cur);

	if (!dd || dd->known_nh != known_nh || !dst_check(dd->dst, dd->cookie))
		return NULL;
	return dd;
}

/*
 * Caches dst (its reference moves in) in place of the entry there; NULL
 * without memory (dst untouched). Under RCU: the entry lives until the
 * caller's read side ends even if another CPU replaces it at once.
 */
static struct ipvs_rs_dest_dst *
ipvs_rs_dest_dst_set(struct ipvs_rs_route_cache *c, struct dst_entry *dst,
		     u32 cookie, __be32 saddr, bool local, bool known_nh)
{
	struct ipvs_rs_dest_dst *dd, *old;

	dd = kmalloc(sizeof(*dd), GFP_ATOMIC);
	if (!dd)
		return NULL;
	dd->dst = dst;
	dd->cookie = cookie;
	dd->saddr = saddr;
	dd->local = local;
	dd->known_nh = known_nh;
	old = unrcu_pointer(xchg(&c->cur, RCU_INITIALIZER(dd)));
	if (old)
		call_rcu(&old->rcu, ipvs_rs_dest_dst_free);
	return dd;
}

/*
 * Looks up the route to the real server daddr (IPv4) through its cache c,
 * with daddr as the next hop: daddr is the real server, so that serves
 * NAT, direct routing and tunnels alike. Returns 1 when daddr is local,
 * 0 with *dst the route (not attached to any packet yet) and *saddr the
 * source it picks, or -errno. With *noref the route holds no reference
 * and lasts until the caller's RCU read side ends; else (no memory to
 * cache it) the caller owns a reference. Route changes invalidate the
 * cached entry (dst_check). Under RCU.
 */
int ipvs_rs_route4_cached(struct net *net, struct ipvs_rs_route_cache *c,
			  __be32 daddr, __be32 *saddr, struct dst_entry **dst,
			  bool *noref)
{
	struct ipvs_rs_dest_dst *dd = ipvs_rs_dest_dst_get(c, true);

	if (!dd) {
		struct flowi4 fl4 = {
			.daddr = daddr,
			.flowi4_flags = FLOWI_FLAG_KNOWN_NH,
		};
		struct rtable *rt = ip_route_output_key(net, &fl4);
		bool local;

		if (IS_ERR(rt))
			return PTR_ERR(rt);
		local = rt->rt_flags & RTCF_LOCAL;
		dd = ipvs_rs_dest_dst_set(c, &rt->dst, 0, fl4.saddr, local,
					  true);
		if (!dd) {
			if (local) {
				ip_rt_put(rt);
				return 1;
			}
			*saddr = fl4.saddr;
			*dst = &rt->dst;
			*noref = false;
			return 0;
		}
	}
	if (dd->local)
		return 1;
	*saddr = dd->saddr;
	*dst = dd->dst;
	*noref = true;
	return 0;
}

/* Whether dst's device computes SCTP CRC32c itself. */
bool ipvs_rs_dst_sctp_crc(const struct dst_entry *dst)
{
	return dst->dev->features & NETIF_F_SCTP_CRC;
}

unsigned int ipvs_rs_dst_mtu(const struct dst_entry *dst)
{
	return dst_mtu(dst);
}

void ipvs_rs_dst_release(struct dst_entry *dst)
{
	dst_release(dst);
}

/*
 * Replaces skb's route with dst: its reference moves to skb, or with
 * noref it has none and lasts until the caller's RCU read side ends
 * (the stack takes one if it keeps skb longer, skb_dst_force).
 */
void ipvs_rs_skb_dst_attach(struct sk_buff *skb, struct dst_entry *dst,
			    bool noref)
{
	skb_dst_drop(skb);
	if (noref)
		skb_dst_set_noref(skb, dst);
	else
		skb_dst_set(skb, dst);
}

/*
 * Routes a NAT reply again now that it comes from the virtual address, as
 * if this host sent it (stock's ip_vs_route_me_harder, snat_reroute):
 * policy routing by source applies. Not when its route is local (IPv4) or
 * on the loopback device (IPv6). 0 or -errno (drop the packet).
 */
int ipvs_rs_snat_reroute(struct net *net, struct sk_buff *skb, bool ipv6)
{
	struct dst_entry *dst = skb_dst(skb);

	if (!dst)
		return 0;
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6) {
		if (!dst->dev || (dst->dev->flags & IFF_LOOPBACK))
			return 0;
		return ip6_route_me_harder(net, skb->sk, skb);
	}
#endif
	if (skb_rtable(skb)->rt_flags & RTCF_LOCAL)
		return 0;
	return ip_route_me_harder(net, skb->sk, skb, RTN_LOCAL);
}

/*
 * A packet taken at PRE_ROUTING (fast_path) has no input route yet, which
 * the ICMP senders want (the error's source, rate limits): looked up here,
 * for the errors only.
 */
static void ipvs_rs_need_input_route(struct sk_buff *skb, bool ipv6)
{
	const struct iphdr *iph;

	if (skb_dst(skb) || !skb->dev)
		return;
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6) {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);
		struct flowi6 fl6 = {
			.flowi6_iif = skb->dev->ifindex,
			.daddr = ip6h->daddr,
			.saddr = ip6h->saddr,
			.flowlabel = ip6_flowinfo(ip6h),
			.flowi6_mark = skb->mark,
			.flowi6_proto = ip6h->nexthdr,
		};

		/* As ip6_route_input, which is not exported; under RCU. */
		skb_dst_set_noref(skb, ip6_route_input_lookup(dev_net(skb->dev),
			skb->dev, &fl6, skb,
			RT6_LOOKUP_F_HAS_SADDR | RT6_LOOKUP_F_DST_NOREF));
		return;
	}
#endif
	iph = ip_hdr(skb);
	ip_route_input_noref(skb, iph->daddr, iph->saddr, iph->tos, skb->dev);
}

/*
 * A packet that would leave with no hop left dies: its sender is told and
 * it is counted, as stock's decrement_ttl (skb still has its input route).
 */
void ipvs_rs_icmp_time_exceeded(struct net *net, struct sk_buff *skb,
				bool ipv6)
{
	ipvs_rs_need_input_route(skb, ipv6);
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6) {
		struct inet6_dev *idev = __in6_dev_get_safely(skb->dev);
		struct dst_entry *dst = skb_dst(skb);

		if (dst)
			skb->dev = dst->dev;
		icmpv6_send(skb, ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT, 0);
		IP6_INC_STATS(net, idev, IPSTATS_MIB_INHDRERRORS);
		return;
	}
#endif
	IP_INC_STATS(net, IPSTATS_MIB_INHDRERRORS);
	icmp_send(skb, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
}

/*
 * Whether skb is too big for mtu, as ip_vs_exceeds_mtu (GSO packets by
 * their segments) and, for IPv6, by the largest fragment of a reassembled
 * packet (__mtu_check_toobig_v6).
 */
bool ipvs_rs_exceeds_mtu(const struct sk_buff *skb, unsigned int mtu,
			 bool ipv6)
{
	if (ipv6 && IP6CB(skb)->frag_max_size)
		return IP6CB(skb)->frag_max_size > mtu;
	if (skb->len <= mtu)
		return false;
	return !(skb_is_gso(skb) && skb_gso_validate_network_len(skb, mtu));
}

/*
 * Tells the sender of skb that the path takes at most mtu bytes: ICMP
 * "fragmentation needed" or ICMPv6 "packet too big".
 */
void ipvs_rs_icmp_too_big(struct net *net, struct sk_buff *skb,
			  unsigned int mtu, bool ipv6)
{
	ipvs_rs_need_input_route(skb, ipv6);
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6) {
		if (!skb->dev)
			skb->dev = net->loopback_dev;
		icmpv6_send(skb, ICMPV6_PKT_TOOBIG, 0, mtu);
		return;
	}
#endif
	icmp_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, htonl(mtu));
}

static int ipvs_rs_output(struct net *net, struct sock *sk,
			  struct sk_buff *skb)
{
	return dst_output(net, sk, skb);
}

/*
 * Sends a packet IPVS has rewritten and routed, through LOCAL_OUT as stock
 * does (other hooks see it, ours skip it). pf: NFPROTO_IPV4 or _IPV6.
 * Consumes skb.
 */
void ipvs_rs_send(struct net *net, struct sk_buff *skb, u8 pf)
{
	skb->ipvs_property = 1;
	/* The MTU was checked (xmit::fits): fragment rather than complain. */
	skb->ignore_df = 1;
	skb_forward_csum(skb);
	skb->dev = skb_dst(skb)->dev;
	NF_HOOK(pf, NF_INET_LOCAL_OUT, net, NULL, skb, NULL,
		skb_dst(skb)->dev, ipvs_rs_output);
}

/*
 * Pushes GUE's header (and, with remcsum, its remote checksum offload
 * option), then the UDP header to port, in front of the inner packet;
 * stock's ipvs_gue_encap.
 */
static int ipvs_rs_gue_encap(struct net *net, struct sk_buff *skb,
			     __be16 port, u8 inner, bool remcsum)
{
	size_t optlen = remcsum ? GUE_PLEN_REMCSUM + GUE_LEN_PRIV : 0;
	size_t hlen = sizeof(struct guehdr) + optlen;
	__be16 sport = udp_flow_src_port(net, skb, 0, 0, false);
	struct guehdr *gueh;
	struct udphdr *uh;

	gueh = skb_push(skb, hlen);
	memset(gueh, 0, hlen);
	gueh->hlen = optlen >> 2;
	gueh->proto_ctype = inner;
	if (remcsum) {
		__be32 *pflags = (__be32 *)&gueh[1];
		__be16 *pd = (__be16 *)&pflags[1];
		u16 start = skb_checksum_start_offset(skb);

		if (start < hlen)
			return -EINVAL;
		start -= hlen;
		gueh->flags |= GUE_FLAG_PRIV;
		*pflags = GUE_PFLAG_REMCSUM;
		pd[0] = htons(start);
		pd[1] = htons(start + skb->csum_offset);
		if (!skb_is_gso(skb)) {
			skb->ip_summed = CHECKSUM_NONE;
			skb->encapsulation = 0;
		}
	}
	uh = skb_push(skb, sizeof(*uh));
	skb_reset_transport_header(skb);
	uh->dest = port;
	uh->source = sport;
	uh->len = htons(skb->len);
	uh->check = 0;
	return 0;
}

/*
 * Wraps the routed skb for a tunnel (stock's ip_vs_tunnel_xmit and
 * ip_vs_tunnel_xmit_v6 between the route and the outer header): the
 * encapsulation of type kind (IP_VS_CONN_F_TUNNEL_TYPE_*: nothing for
 * IPIP, a GUE header in UDP to port, a GRE header) with tunnel flags
 * (IP_VS_TUNNEL_ENCAP_FLAG_*), then room for the outer IPv4 or IPv6
 * header (outer_v6), where the network header then points; the caller
 * writes it. inner: IPPROTO_IPIP or IPPROTO_IPV6. saddr, daddr: the
 * outer addresses (4 or 16 bytes), for GUE's UDP checksum. Returns the
 * outer header's protocol, or -errno (the caller drops the skb).
 */
int ipvs_rs_push_tunnel(struct net *net, struct sk_buff *skb, bool outer_v6,
			u8 inner, u8 kind, u16 flags, __be16 port,
			const void *saddr, const void *daddr)
{
	unsigned int ohlen = outer_v6 ? sizeof(struct ipv6hdr) :
					sizeof(struct iphdr);
	bool csum = flags & IP_VS_TUNNEL_ENCAP_FLAG_CSUM;
	/* GUE: a UDP checksum with either flag, the option only for partial. */
	bool udp_csum = flags & (IP_VS_TUNNEL_ENCAP_FLAG_CSUM |
				 IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM);
	bool remcsum = (flags & IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM) &&
		       skb->ip_summed == CHECKSUM_PARTIAL;
	int gso = outer_v6 ? SKB_GSO_IPXIP6 : SKB_GSO_IPXIP4;
	IP_TUNNEL_DECLARE_FLAGS(tflags) = { };
	unsigned int elen = 0;
	u8 proto = inner;
	int err;

	if (kind == IP_VS_CONN_F_TUNNEL_TYPE_GUE) {
		elen = sizeof(struct udphdr) + sizeof(struct guehdr);
		if (remcsum)
			elen += GUE_PLEN_REMCSUM + GUE_LEN_PRIV;
		gso |= udp_csum ? SKB_GSO_UDP_TUNNEL_CSUM : SKB_GSO_UDP_TUNNEL;
		if (remcsum)
			gso |= SKB_GSO_TUNNEL_REMCSUM;
	} else if (kind == IP_VS_CONN_F_TUNNEL_TYPE_GRE) {
		if (csum)
			__set_bit(IP_TUNNEL_CSUM_BIT, tflags);
		elen = gre_calc_hlen(tflags);
		gso |= csum ? SKB_GSO_GRE_CSUM : SKB_GSO_GRE;
	}
	err = skb_cow_head(skb, LL_RESERVED_SPACE(skb_dst(skb)->dev) + ohlen +
				elen);
	if (err)
		return err;
	err = iptunnel_handle_offloads(skb, gso);
	if (err)
		return err;
	skb->transport_header = skb->network_header;
	skb_set_inner_ipproto(skb, inner);
	skb_set_inner_mac_header(skb, skb_inner_network_offset(skb));

	if (kind == IP_VS_CONN_F_TUNNEL_TYPE_GUE) {
		err = ipvs_rs_gue_encap(net, skb, port, inner, remcsum);
		if (err)
			return err;
		if (outer_v6) {
#if IS_ENABLED(CONFIG_IPV6)
			udp6_set_csum(!udp_csum, skb, saddr, daddr, skb->len);
#else
			return -EAFNOSUPPORT;
#endif
		} else {
			__be32 s, d;

			memcpy(&s, saddr, sizeof(s));
			memcpy(&d, daddr, sizeof(d));
			udp_set_csum(!udp_csum, skb, s, d, skb->len);
		}
		proto = IPPROTO_UDP;
	} else if (kind == IP_VS_CONN_F_TUNNEL_TYPE_GRE) {
		gre_build_header(skb, elen, tflags,
				 inner == IPPROTO_IPV6 ? htons(ETH_P_IPV6) :
							 htons(ETH_P_IP),
				 0, 0);
		proto = IPPROTO_GRE;
	}

	skb_push(skb, ohlen);
	skb_reset_network_header(skb);
	if (outer_v6) {
		memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
		skb->protocol = htons(ETH_P_IPV6);
	} else {
		memset(IPCB(skb), 0, sizeof(*IPCB(skb)));
		skb->protocol = htons(ETH_P_IP);
	}
	return proto;
}

void ipvs_rs_ip_select_ident(struct net *net, struct sk_buff *skb)
{
	ip_select_ident(net, skb, NULL);
}

void ipvs_rs_bucket_lock_init(spinlock_t *lock)
{
	spin_lock_init(lock);
}

/*
 * The address this host sends from to the packet's destination on its
 * route (as MASQUERADE picks one): 0, or -errno.
 */
int ipvs_rs_route_saddr(const struct sk_buff *skb, bool ipv6, void *saddr)
{
	struct dst_entry *dst = skb_dst(skb);
	__be32 a;

	if (!dst || !dst->dev)
		return -ENETUNREACH;
	if (ipv6) {
#if IS_ENABLED(CONFIG_IPV6)
		return ipv6_dev_get_saddr(dev_net(dst->dev), dst->dev,
					  &ipv6_hdr(skb)->daddr, 0, saddr);
#else
		return -EAFNOSUPPORT;
#endif
	}
	a = inet_select_addr(dst->dev, ip_hdr(skb)->daddr, RT_SCOPE_UNIVERSE);
	if (!a)
		return -EADDRNOTAVAIL;
	memcpy(saddr, &a, sizeof(a));
	return 0;
}

void ipvs_rs_icmp_port_unreach(struct sk_buff *skb)
{
	icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
}

/*
 * Reassembles an IPv4 fragment, as ip_vs_gather_frags: 0 when skb now holds
 * the whole datagram, else skb was queued or freed (the hook steals it).
 */
int ipvs_rs_ip_gather_frags(struct net *net, struct sk_buff *skb,
			    unsigned int hooknum)
{
	u32 user = hooknum == NF_INET_FORWARD ? IP_DEFRAG_VS_FWD :
		   hooknum == NF_INET_LOCAL_IN ? IP_DEFRAG_VS_IN :
						 IP_DEFRAG_VS_OUT;
	int err;

	local_bh_disable();
	err = ip_defrag(net, skb, user);
	local_bh_enable();
	if (!err)
		ip_send_check(ip_hdr(skb));
	return err;
}

#if IS_ENABLED(CONFIG_IPV6)
/*
 * Looks up the route to the real server daddr (IPv6) through its cache c,
 * as ipvs_rs_route4_cached; with known_nh, daddr is the next hop whatever
 * the packet's destination (direct routing).
 */
int ipvs_rs_route6_cached(struct net *net, struct ipvs_rs_route_cache *c,
			  const struct in6_addr *daddr, bool known_nh,
			  struct dst_entry **out, bool *noref)
{
	struct ipvs_rs_dest_dst *dd = ipvs_rs_dest_dst_get(c, known_nh);

	if (!dd) {
		struct flowi6 fl6 = {
			.daddr = *daddr,
			.flowi6_flags = known_nh ? FLOWI_FLAG_KNOWN_NH : 0,
		};
		struct dst_entry *dst = ip6_route_output(net, NULL, &fl6);
		int err = dst->error;
		bool local;

		if (err) {
			dst_release(dst);
			return err;
		}
		local = dst->dev && (dst->dev->flags & IFF_LOOPBACK);
		/*
		 * Not the direct-routing (known next hop) route: kept here, it
		 * left two references on its device after ten connections, and
		 * deleting the namespace waited for them forever (93-fast-path's
		 * IPv6 DR part; stock caches it without that). A lookup per
		 * packet until that is understood.
		 */
		dd = known_nh ? NULL :
			ipvs_rs_dest_dst_set(c, dst,
					     rt6_get_cookie(dst_rt6_info(dst)),
					     0, local, known_nh);
		if (!dd) {
			if (local) {
				dst_release(dst);
				return 1;
			}
			*out = dst;
			*noref = false;
			return 0;
		}
	}
	if (dd->local)
		return 1;
	*out = dd->dst;
	*noref = true;
	return 0;
}

void ipvs_rs_icmp6_port_unreach(struct sk_buff *skb)
{
	icmpv6_send(skb, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0);
}

/*
 * Picks the source address for a tunnel to daddr on the attached route
 * (for ipvs_rs_push_tunnel's outer IPv6 header). Returns 0 or -errno.
 */
int ipvs_rs_tunnel_saddr6(const struct sk_buff *skb,
			  const struct in6_addr *daddr, struct in6_addr *saddr)
{
	struct dst_entry *dst = skb_dst(skb);

	if (!dst || !dst->dev)
		return -ENETUNREACH;
	if (ipv6_dev_get_saddr(dev_net(dst->dev), dst->dev, daddr, 0, saddr))
		return -EADDRNOTAVAIL;
	return 0;
}

int ipvs_rs_defrag_ipv6_enable(struct net *net)
{
	return nf_defrag_ipv6_enable(net);
}

void ipvs_rs_defrag_ipv6_disable(struct net *net)
{
	nf_defrag_ipv6_disable(net);
}
#endif

/*
 * Connection sync: the sockets and threads of the sync daemons. The
 * socket set-up does what stock's make_send_sock / make_receive_sock do.
 */
int ipvs_rs_dev_info(struct net *net, const char *name, int *ifindex,
		     unsigned int *mtu, __be32 *addr4)
{
	struct net_device *dev = dev_get_by_name(net, name);

	if (!dev)
		return -ENODEV;
	*ifindex = dev->ifindex;
	*mtu = READ_ONCE(dev->mtu);
	*addr4 = inet_select_addr(dev, 0, RT_SCOPE_UNIVERSE);
	dev_put(dev);
	return 0;
}

int ipvs_rs_udp_sock_create(struct net *net, u16 af, struct socket **res)
{
	return sock_create_kern(net, af, SOCK_DGRAM, IPPROTO_UDP, res);
}

void ipvs_rs_sock_release(struct socket *sock)
{
	sock_release(sock);
}

static void sock_size(struct sock *sk, bool snd, int val)
{
	lock_sock(sk);
	if (snd) {
		val = clamp_t(int, val, (SOCK_MIN_SNDBUF + 1) / 2,
			      READ_ONCE(sysctl_wmem_max));
		WRITE_ONCE(sk->sk_sndbuf, val * 2);
		sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
	} else {
		val = clamp_t(int, val, (SOCK_MIN_RCVBUF + 1) / 2,
			      READ_ONCE(sysctl_rmem_max));
		WRITE_ONCE(sk->sk_rcvbuf, val * 2);
		sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
	}
	release_sock(sk);
}

/* Outgoing multicast on @ifindex, no loopback, @ttl, fragmentation
 * allowed, and with @sndbuf > 0 that send buffer. */
int ipvs_rs_sock_mcast_sender(struct socket *sock, int ifindex, u8 ttl,
			      int sndbuf)
{
	struct sock *sk = sock->sk;
	struct inet_sock *inet = inet_sk(sk);

	if (sk->sk_bound_dev_if && ifindex != sk->sk_bound_dev_if)
		return -EINVAL;
	inet_assign_bit(MC_LOOP, sk, 0);
	lock_sock(sk);
	inet->mc_index = ifindex;
	WRITE_ONCE(inet->mc_ttl, ttl);
	WRITE_ONCE(inet->pmtudisc, IP_PMTUDISC_DONT);
	if (sk->sk_family == AF_INET6) {
		struct ipv6_pinfo *np = inet6_sk(sk);

		inet6_assign_bit(MC6_LOOP, sk, 0);
		WRITE_ONCE(np->mcast_oif, ifindex);
		WRITE_ONCE(np->mcast_hops, ttl);
		WRITE_ONCE(np->pmtudisc, IP_PMTUDISC_DONT);
	}
	release_sock(sk);
	if (sndbuf > 0)
		sock_size(sk, true, sndbuf);
	return 0;
}

/* Address reuse (REUSEADDR), bound to @ifindex, @rcvbuf > 0 set. */
void ipvs_rs_sock_receiver(struct socket *sock, int ifindex, int rcvbuf)
{
	struct sock *sk = sock->sk;

	sk->sk_reuse = SK_CAN_REUSE;
	if (rcvbuf > 0)
		sock_size(sk, false, rcvbuf);
	sk->sk_bound_dev_if = ifindex;
}

static int sockaddr_of(struct sockaddr_storage *ss, u16 af, const u8 *addr,
		       u16 port)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		return sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		return sizeof(*sin);
	}
}

int ipvs_rs_sock_bind(struct socket *sock, u16 af, const u8 *addr, u16 port)
{
	struct sockaddr_storage ss;
	int len = sockaddr_of(&ss, af, addr, port);

	return kernel_bind(sock, (struct sockaddr *)&ss, len);
}

int ipvs_rs_sock_connect(struct socket *sock, u16 af, const u8 *addr,
			 u16 port)
{
	struct sockaddr_storage ss;
	int len = sockaddr_of(&ss, af, addr, port);

	return kernel_connect(sock, (struct sockaddr *)&ss, len, 0);
}

int ipvs_rs_sock_join(struct socket *sock, u16 af, const u8 *group,
		      int ifindex)
{
	struct sock *sk = sock->sk;
	int ret;

	if (sk->sk_bound_dev_if && ifindex != sk->sk_bound_dev_if)
		return -EINVAL;
	rtnl_lock();
	lock_sock(sk);
	if (af == AF_INET6) {
		ret = ipv6_sock_mc_join(sk, ifindex, (const struct in6_addr *)group);
	} else {
		struct ip_mreqn mreq = { .imr_ifindex = ifindex };

		memcpy(&mreq.imr_multiaddr, group, 4);
		ret = ip_mc_join_group(sk, &mreq);
	}
	release_sock(sk);
	rtnl_unlock();
	return ret;
}

/* Sends without blocking; to @addr:@port unless @af is 0 (connected). */
int ipvs_rs_sock_send(struct socket *sock, const void *buf, size_t len,
		      u16 af, const u8 *addr, u16 port)
{
	struct sockaddr_storage ss;
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (af) {
		msg.msg_name = &ss;
		msg.msg_namelen = sockaddr_of(&ss, af, addr, port);
	}
	return kernel_sendmsg(sock, &msg, &iov, 1, len);
}

int ipvs_rs_sock_recv(struct socket *sock, void *buf, size_t len, u16 *sport)
{
	struct sockaddr_storage from = {};
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from) };
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	int n;

	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &iov, 1, len);
	n = sock_recvmsg(sock, &msg, MSG_DONTWAIT);
	/* sin_port and sin6_port sit at the same offset */
	*sport = n >= 0 ? ntohs(((struct sockaddr_in *)&from)->sin_port) : 0;
	return n;
}

/* Sleeps until a datagram waits or the calling kthread is told to stop. */
void ipvs_rs_sock_wait_readable(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct udp_sock *up = udp_sk(sk);

	wait_event_interruptible(*sk_sleep(sk),
				 !skb_queue_empty_lockless(&sk->sk_receive_queue) ||
				 !skb_queue_empty_lockless(&up->reader_queue) ||
				 kthread_should_stop());
}

/*
 * As ipvs_rs_sock_wait_readable, for at most timeout jiffies: false if
 * nothing came.
 */
bool ipvs_rs_sock_wait_readable_timeout(struct socket *sock, long timeout)
{
	struct sock *sk = sock->sk;
	struct udp_sock *up = udp_sk(sk);

	return wait_event_interruptible_timeout(*sk_sleep(sk),
				 !skb_queue_empty_lockless(&sk->sk_receive_queue) ||
				 !skb_queue_empty_lockless(&up->reader_queue) ||
				 kthread_should_stop(), timeout) > 0;
}

/* Sleeps until the send buffer has room or the kthread is told to stop. */
void ipvs_rs_sock_wait_writable(struct socket *sock)
{
	struct sock *sk = sock->sk;

	wait_event_interruptible(*sk_sleep(sk),
				 sock_writeable(sk) || kthread_should_stop());
}

/* Starts a kthread named @name, holding a reference to its task so that
 * ipvs_rs_kthread_stop() works whenever the thread returns. */
struct task_struct *ipvs_rs_kthread_run(int (*fn)(void *), void *data,
					const char *name)
{
	struct task_struct *t = kthread_create(fn, data, "%s", name);

	if (IS_ERR(t))
		return t;
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

int ipvs_rs_kthread_stop(struct task_struct *task)
{
	return kthread_stop_put(task);
}

/* Gives the calling kthread the nice value @nice and the CPUs of @cpus
 * (a bitmap of the first BITS_PER_LONG; none left of the possible ones
 * leaves its CPUs alone). */
void ipvs_rs_kthread_steer(int nice, unsigned long cpus)
{
	cpumask_var_t mask;

	set_user_nice(current, clamp(nice, MIN_NICE, MAX_NICE));
	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return;
	cpumask_bits(mask)[0] = cpus;
	if (cpumask_and(mask, mask, cpu_possible_mask))
		set_cpus_allowed_ptr(current, mask);
	free_cpumask_var(mask);
}

bool ipvs_rs_kthread_should_stop(void)
{
	return kthread_should_stop();
}

void ipvs_rs_set_current_interruptible(void)
{
	set_current_state(TASK_INTERRUPTIBLE);
}

void ipvs_rs_set_current_running(void)
{
	__set_current_state(TASK_RUNNING);
}

long ipvs_rs_schedule_timeout(long timeout)
{
	return schedule_timeout(timeout);
}

void ipvs_rs_cond_resched(void)
{
	cond_resched();
}

/*
 * Counters per CPU. The pointers are __percpu addresses (bindgen does not
 * know the annotation); the casts put it back.
 */
u64 *ipvs_rs_percpu_alloc(unsigned int bytes)
{
	return (u64 __force *)__alloc_percpu_gfp(bytes, sizeof(u64), GFP_ATOMIC);
}

void ipvs_rs_percpu_free(u64 *p)
{
	free_percpu((u64 __percpu __force *)p);
}

void ipvs_rs_percpu_add2(u64 *p, unsigned int i, u64 a, unsigned int j, u64 b)
{
	u64 __percpu *c = (u64 __percpu __force *)p;

	this_cpu_add(c[i], a);
	this_cpu_add(c[j], b);
}

void ipvs_rs_percpu_sum(u64 *p, unsigned int n, u64 *out)
{
	u64 __percpu *c = (u64 __percpu __force *)p;
	unsigned int i;
	int cpu;

	memset(out, 0, n * sizeof(*out));
	for_each_possible_cpu(cpu) {
		u64 *v = per_cpu_ptr(c, cpu);

		for (i = 0; i < n; i++)
			out[i] += READ_ONCE(v[i]);
	}
}

/*
 * The FTP helper (stock's ip_vs_ftp and its "ports" parameter).
 */
static unsigned short ftp_ports[8] = { 21 };
static unsigned int ftp_ports_count = 1;
module_param_array(ftp_ports, ushort, &ftp_ports_count, 0444);
MODULE_PARM_DESC(ftp_ports,
		 "Virtual ports (up to 8) of TCP NAT services whose FTP control connections are watched (default 21; 0: none)");

bool ipvs_rs_ftp_watches(u16 port)
{
	unsigned int i;

	for (i = 0; i < ftp_ports_count && i < ARRAY_SIZE(ftp_ports); i++)
		if (port && ftp_ports[i] == port)
			return true;
	return false;
}

/*
 * Replaces @match_len bytes at @match_off of the TCP payload (the TCP
 * header at @l4 from the network header) by @rep, as stock's FTP helper
 * does through nf_nat_mangle_tcp_packet: the checksum is redone and
 * conntrack adjusts the sequence numbers of what follows. Needs the
 * packet's conntrack entry, with room for that when the length changes.
 */
bool ipvs_rs_mangle_tcp(struct sk_buff *skb, unsigned int l4,
			unsigned int match_off, unsigned int match_len,
			const char *rep, unsigned int rep_len)
{
#if IS_ENABLED(CONFIG_NF_NAT)
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (!ct || (rep_len != match_len && !nfct_seqadj(ct)))
		return false;
	if (!__nf_nat_mangle_tcp_packet(skb, ct, ctinfo,
					skb_network_offset(skb) + l4,
					match_off, match_len, rep, rep_len,
					true))
		return false;
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	return true;
#else
	return false;
#endif
}

/*
 * Tells conntrack of the packet's entry (the FTP control connection) to
 * expect a data connection from @saddr (any port) to @daddr:@dport, as
 * stock's ip_vs_nfct_expect_related; the IPVS connection that packet
 * finds sets the new entry's reply. Quietly nothing if conntrack will
 * not (no helper on the entry, no memory).
 */
void ipvs_rs_ct_expect(struct sk_buff *skb, u8 proto, const u8 *saddr,
		       const u8 *daddr, __be16 dport)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	struct nf_conntrack_expect *exp;

	if (!ct)
		return;
	exp = nf_ct_expect_alloc(ct);
	if (!exp)
		return;
	nf_ct_expect_init(exp, NF_CT_EXPECT_CLASS_DEFAULT, nf_ct_l3num(ct),
			  (const union nf_inet_addr *)saddr,
			  (const union nf_inet_addr *)daddr, proto, NULL,
			  &dport);
	nf_ct_expect_related(exp, 0);
	nf_ct_expect_put(exp);
}

/* Conntrack in @net for @af, as stock's ip_vs_register_conntrack. */
int ipvs_rs_ct_netns_get(struct net *net, u8 af)
{
	return nf_ct_netns_get(net, af);
}

void ipvs_rs_ct_netns_put(struct net *net, u8 af)
{
	nf_ct_netns_put(net, af);
}

/* Whether binding @port needs privilege in @net (ip_unprivileged_port_start). */
bool ipvs_rs_port_privileged(struct net *net, u16 port)
{
	return inet_port_requires_bind_service(net, port);
}
