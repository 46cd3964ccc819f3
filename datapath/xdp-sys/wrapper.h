/* The headers xdp-sys binds: libxdp's AF_XDP socket API and program loader, and the few libbpf
 * calls needed to size and find the XSKMAP of the default redirect program. */
#include <xdp/xsk.h>
#include <xdp/libxdp.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
