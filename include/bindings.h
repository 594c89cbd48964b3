/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bindgen reads to generate src/bindings_generated.rs: the kernel APIs
 * ipvs_rs uses that the kernel crate has no abstraction for.
 */
#include <kunit/test.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/module.h>
#include <linux/rculist.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/seq_file.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/skbuff.h>
#include <linux/sysctl.h>
#include <net/dst_cache.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <uapi/linux/ip_vs.h>

#include "ipvs_helpers.h"
