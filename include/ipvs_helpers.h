/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for ipvs_rs: out-of-line wrappers for the static inline kernel
 * functions and macros the Rust code needs. Bindgen cannot see through static
 * inline functions, so each one gets a tiny exported-to-Rust twin here.
 */
#ifndef IPVS_RS_HELPERS_H
#define IPVS_RS_HELPERS_H

#include <linux/types.h>
#include <linux/spinlock_types.h>

struct net;
struct sk_buff;
struct genl_info;
struct genl_family;
struct netlink_callback;
struct nlattr;
struct kunit;
struct module;

/* net namespaces */
void *ipvs_rs_net_generic(const struct net *net, unsigned int id);
bool ipvs_rs_net_is_init(const struct net *net);
bool ipvs_rs_net_user_ns_is_init(const struct net *net);
bool ipvs_rs_unicast_or_local(struct net *net, bool ipv6, const void *addr);
bool ipvs_rs_addr_is_unicast(struct net *net, bool ipv6, const void *addr);
struct dst_entry;
int ipvs_rs_route_plain(struct net *net, bool ipv6, const void *daddr,
			struct dst_entry **dst);
struct net *ipvs_rs_genl_info_net(const struct genl_info *info);
struct module *ipvs_rs_this_module(void);
int ipvs_rs_conn_tab_bits(void);
unsigned long ipvs_rs_totalram_pages(void);
unsigned long ipvs_rs_avail_pages(void);
const char *ipvs_rs_module_name(const struct module *mod);
int ipvs_rs_notifier_from_errno(int err);

/* /proc/net files */
struct seq_file;
int ipvs_rs_proc_create(struct net *net, const char *name, umode_t mode,
			int (*show)(struct seq_file *seq, void *v));
/*
 * A /proc/net file listed in parts: header() writes the first line,
 * records(pos) what begins at position pos (below 2^32) or after and
 * returns where the next part begins, or 2^32 at the end.
 */
struct ipvs_rs_walk_ops {
	void (*header)(struct seq_file *seq, struct net *net);
	u64 (*records)(struct seq_file *seq, struct net *net, u64 pos);
};
int ipvs_rs_proc_create_walk(struct net *net, const char *name, umode_t mode,
			     const struct ipvs_rs_walk_ops *ops);
void ipvs_rs_proc_remove(struct net *net, const char *name);
struct net *ipvs_rs_seq_net(struct seq_file *seq);

/* RCU */
void ipvs_rs_rcu_read_lock(void);
void ipvs_rs_rcu_read_unlock(void);

/* sk_buff */
void *ipvs_rs_skb_header_pointer(const struct sk_buff *skb, int offset,
				 int len, void *buffer);
unsigned int ipvs_rs_skb_len(const struct sk_buff *skb);
struct sk_buff *ipvs_rs_alloc_skb(unsigned int len);
void ipvs_rs_kfree_skb(struct sk_buff *skb);

/* generic netlink messages */
struct sk_buff *ipvs_rs_genlmsg_new(void);
void ipvs_rs_nlmsg_free(struct sk_buff *skb);
void *ipvs_rs_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info,
				const struct genl_family *family, u8 cmd);
void *ipvs_rs_genlmsg_put_dump(struct sk_buff *skb,
			       struct netlink_callback *cb, u8 cmd);
void ipvs_rs_genlmsg_end(struct sk_buff *skb, void *hdr);
void ipvs_rs_genlmsg_cancel(struct sk_buff *skb, void *hdr);
int ipvs_rs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
struct nlattr *ipvs_rs_genl_info_attr(const struct genl_info *info,
				      unsigned int type);
void ipvs_rs_genl_set_err_msg(struct genl_info *info, const char *msg);
int ipvs_rs_nla_put(struct sk_buff *skb, int type, int len, const void *data);
struct nlattr *ipvs_rs_nla_nest_start(struct sk_buff *skb, int type);
void ipvs_rs_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
void ipvs_rs_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start);
int ipvs_rs_nla_len(const struct nlattr *nla);
const void *ipvs_rs_nla_data(const struct nlattr *nla);
long *ipvs_rs_netlink_cb_args(struct netlink_callback *cb);
const void *ipvs_rs_genl_dump_attrs(struct netlink_callback *cb, int *len);
int ipvs_rs_nla_put_u64(struct sk_buff *skb, int type, u64 value, int pad);
u8 ipvs_rs_genl_info_cmd(const struct genl_info *info);
const struct genl_family *ipvs_rs_genl_info_family(const struct genl_info *info);
const struct genl_info *ipvs_rs_genl_dump_info(struct netlink_callback *cb);
struct net *ipvs_rs_netlink_cb_net(const struct netlink_callback *cb);

/* locks, timers, RCU hash lists */
struct lock_class_key;
struct timer_list;
struct work_struct;
struct kmem_cache;
struct kmem_cache *ipvs_rs_cache_create(const char *name, unsigned int size,
					 unsigned int align);
void *ipvs_rs_cache_alloc_atomic(struct kmem_cache *cache);
void ipvs_rs_spin_lock_bh(spinlock_t *lock);
void ipvs_rs_spin_unlock_bh(spinlock_t *lock);
void ipvs_rs_timer_setup(struct timer_list *timer,
			 void (*fn)(struct timer_list *));
void ipvs_rs_work_init(struct work_struct *work,
		       void (*fn)(struct work_struct *));
bool ipvs_rs_work_queue(struct work_struct *work);

/* packet surgery and transmission */
int ipvs_rs_skb_ensure_writable(struct sk_buff *skb, unsigned int len);
void ipvs_rs_sctp_set_checksum(struct sk_buff *skb, unsigned int off);
struct dst_entry;
unsigned int ipvs_rs_dst_mtu(const struct dst_entry *dst);
bool ipvs_rs_dst_sctp_crc(const struct dst_entry *dst);
void ipvs_rs_dst_release(struct dst_entry *dst);
void ipvs_rs_skb_dst_attach(struct sk_buff *skb, struct dst_entry *dst,
			    bool noref);
int ipvs_rs_snat_reroute(struct net *net, struct sk_buff *skb, bool ipv6);
void ipvs_rs_icmp_time_exceeded(struct net *net, struct sk_buff *skb,
				bool ipv6);
bool ipvs_rs_exceeds_mtu(const struct sk_buff *skb, unsigned int mtu,
			 bool ipv6);
void ipvs_rs_icmp_too_big(struct net *net, struct sk_buff *skb,
			  unsigned int mtu, bool ipv6);
void ipvs_rs_send(struct net *net, struct sk_buff *skb, u8 pf);
int ipvs_rs_push_tunnel(struct net *net, struct sk_buff *skb, bool outer_v6,
			u8 inner, u8 kind, u16 flags, __be16 port,
			const void *saddr, const void *daddr);
void ipvs_rs_ip_select_ident(struct net *net, struct sk_buff *skb);

void ipvs_rs_bucket_lock_init(spinlock_t *lock);
struct ipvs_rs_dest_dst;
/* A real server's route cache: NULL or an entry, replaced under RCU. */
struct ipvs_rs_route_cache {
	struct ipvs_rs_dest_dst __rcu *cur;
};
void ipvs_rs_route_cache_reset(struct ipvs_rs_route_cache *c);
int ipvs_rs_route4_cached(struct net *net, struct ipvs_rs_route_cache *c,
			  __be32 daddr, __be32 *saddr, struct dst_entry **dst,
			  bool *noref);
int ipvs_rs_route_saddr(const struct sk_buff *skb, bool ipv6, void *saddr);
void ipvs_rs_icmp_port_unreach(struct sk_buff *skb);
int ipvs_rs_ip_gather_frags(struct net *net, struct sk_buff *skb,
			    unsigned int hooknum);

struct in6_addr;
int ipvs_rs_route6_cached(struct net *net, struct ipvs_rs_route_cache *c,
			  const struct in6_addr *daddr, bool known_nh,
			  struct dst_entry **dst, bool *noref);
void ipvs_rs_icmp6_port_unreach(struct sk_buff *skb);
int ipvs_rs_tunnel_saddr6(const struct sk_buff *skb,
			  const struct in6_addr *daddr, struct in6_addr *saddr);
int ipvs_rs_defrag_ipv6_enable(struct net *net);
void ipvs_rs_defrag_ipv6_disable(struct net *net);

/* conntrack */
struct nf_hook_state;
void ipvs_rs_ct_untrack(struct sk_buff *skb);
bool ipvs_rs_ct_confirmed(const struct sk_buff *skb);
bool ipvs_rs_l4_checksum_ok(struct sk_buff *skb, unsigned int offset, u8 proto, bool ipv6);
void ipvs_rs_ct_alter_reply(struct sk_buff *skb, bool from_server,
			    const u8 *addr, __be16 port, bool seqadj);
unsigned int ipvs_rs_ct_renew(struct sk_buff *skb,
			      const struct nf_hook_state *state);
void ipvs_rs_ct_drop(struct net *net, u16 af, u8 protocol,
		     const u8 *caddr, __be16 cport,
		     const u8 *vaddr, __be16 vport);

/* connection sync: kernel UDP sockets and kernel threads */
struct socket;
struct task_struct;
int ipvs_rs_dev_info(struct net *net, const char *name, int *ifindex,
		     unsigned int *mtu, __be32 *addr4);
int ipvs_rs_udp_sock_create(struct net *net, u16 af, struct socket **res);
void ipvs_rs_sock_release(struct socket *sock);
int ipvs_rs_sock_mcast_sender(struct socket *sock, int ifindex, u8 ttl,
			      int sndbuf);
void ipvs_rs_sock_receiver(struct socket *sock, int ifindex, int rcvbuf);
int ipvs_rs_sock_bind(struct socket *sock, u16 af, const u8 *addr,
		      u16 port);
int ipvs_rs_sock_connect(struct socket *sock, u16 af, const u8 *addr,
			 u16 port);
int ipvs_rs_sock_join(struct socket *sock, u16 af, const u8 *group,
		      int ifindex);
int ipvs_rs_sock_send(struct socket *sock, const void *buf, size_t len,
		      u16 af, const u8 *addr, u16 port);
int ipvs_rs_sock_recv(struct socket *sock, void *buf, size_t len, u16 *sport);
void ipvs_rs_sock_wait_readable(struct socket *sock);
bool ipvs_rs_sock_wait_readable_timeout(struct socket *sock, long timeout);
void ipvs_rs_sock_wait_writable(struct socket *sock);
struct task_struct *ipvs_rs_kthread_run(int (*fn)(void *), void *data,
					const char *name);
int ipvs_rs_kthread_stop(struct task_struct *task);
void ipvs_rs_kthread_steer(int nice, unsigned long cpus);
bool ipvs_rs_kthread_should_stop(void);
void ipvs_rs_set_current_interruptible(void);
void ipvs_rs_set_current_running(void);
long ipvs_rs_schedule_timeout(long timeout);
void ipvs_rs_cond_resched(void);

/* sysctl defaults */
unsigned long ipvs_rs_possible_cpus(void);

/* per-CPU counters */
u64 *ipvs_rs_percpu_alloc(unsigned int bytes);
void ipvs_rs_percpu_free(u64 *p);
void ipvs_rs_percpu_add2(u64 *p, unsigned int i, u64 a, unsigned int j, u64 b);
void ipvs_rs_percpu_sum(u64 *p, unsigned int n, u64 *out);

/* KUnit */
void ipvs_rs_kunit_fail(struct kunit *test, const char *file, int line,
			const char *msg);

bool ipvs_rs_ftp_watches(u16 port);
bool ipvs_rs_mangle_tcp(struct sk_buff *skb, unsigned int l4,
			unsigned int match_off, unsigned int match_len,
			const char *rep, unsigned int rep_len);
void ipvs_rs_ct_expect(struct sk_buff *skb, u8 proto, const u8 *saddr,
		       const u8 *daddr, __be16 dport);
int ipvs_rs_ct_netns_get(struct net *net, u8 af);
void ipvs_rs_ct_netns_put(struct net *net, u8 af);
bool ipvs_rs_port_privileged(struct net *net, u16 port);

#endif /* IPVS_RS_HELPERS_H */
