// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line twins of static inline kernel functions for the Rust side of
 * ipvs_rs (see include/ipvs_helpers.h). Each is a one-liner on purpose: the
 * logic lives in Rust.
 */
#include <kunit/test.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "ipvs_helpers.h"

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

struct net *ipvs_rs_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

static int conn_tab_bits = 12;
module_param(conn_tab_bits, int, 0444);
MODULE_PARM_DESC(conn_tab_bits,
		 "Set connections' hash size (8..20, as stock ip_vs)");

int ipvs_rs_conn_tab_bits(void)
{
	return conn_tab_bits;
}

const char *ipvs_rs_module_name(const struct module *mod)
{
	return mod->name;
}

int ipvs_rs_notifier_from_errno(int err)
{
	return notifier_from_errno(err);
}

unsigned int ipvs_rs_hz(void)
{
	return HZ;
}

struct module *ipvs_rs_this_module(void)
{
	return THIS_MODULE;
}

int ipvs_rs_proc_create(struct net *net, const char *name,
			int (*show)(struct seq_file *seq, void *v))
{
	return proc_create_net_single(name, 0, net->proc_net, show, NULL) ?
		0 : -ENOMEM;
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

int ipvs_rs_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
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
	return genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
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
