package daemon

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// The IPsec metrics: per peer (IKE) and per SA (ESP), read at scrape time.
var (
	descIKESAs     = prometheus.NewDesc("vpdn_ike_sas", "IKE phase-1 SAs by peer and state (IOS's show crypto isakmp sa states).", []string{"peer", "state"}, nil)
	descIKEDrops   = prometheus.NewDesc("vpdn_ike_drops_total", "IKE messages dropped, by reason.", []string{"reason"}, nil)
	descIPsecPkts  = prometheus.NewDesc("vpdn_ipsec_packets_total", "Packets through an IPsec SA pair (encaps: sealed, decaps: opened).", []string{"peer", "spi_in", "direction"}, nil)
	descIPsecBytes = prometheus.NewDesc("vpdn_ipsec_bytes_total", "Payload bytes through an IPsec SA pair.", []string{"peer", "spi_in", "direction"}, nil)
	descIPsecErrs  = prometheus.NewDesc("vpdn_ipsec_errors_total", "Errors of an IPsec SA pair: replay, verify (ICV), invalid length, policy (outside the selectors), send.", []string{"peer", "spi_in", "kind"}, nil)
	descEzGroups   = prometheus.NewDesc("vpdn_ezvpn_radius_groups_total", "Easy VPN client group lookups in RADIUS, by result: found, rejected, failed (no answer), waiting (IKE message dropped while a lookup ran), throttled (no lookup started: rate, in-flight or entry bound), bad-avpair (Cisco-AVPairs ignored).", []string{"result"}, nil)
	descEzCache    = prometheus.NewDesc("vpdn_ezvpn_radius_group_cache_entries", "Easy VPN client groups answers held from RADIUS (and lookups under way).", nil, nil)
	cryptoDescs    = []*prometheus.Desc{descIKESAs, descIKEDrops, descIPsecPkts, descIPsecBytes, descIPsecErrs, descEzGroups, descEzCache}
)

func (c collector) collectCrypto(ch chan<- prometheus.Metric) {
	drops := map[string]uint64{}
	ezGroups, ezEntries, ezAny := map[string]uint64{}, 0, false
	for _, s := range c.d.ipsecServices() {
		if s.ez != nil {
			st, n := s.ez.groups.snapshot()
			ezAny = true
			ezEntries += n
			for k, v := range map[string]uint64{"found": st.Found, "rejected": st.Rejected, "failed": st.Failed,
				"waiting": st.Waiting, "throttled": st.Throttled, "bad-avpair": st.BadPairs} {
				ezGroups[k] += v
			}
		}
		states := map[[2]string]float64{}
		local := s.local.String()
		for _, p := range s.isakmpSAs() {
			peer := p.Dst
			if peer == local {
				peer = p.Src
			}
			states[[2]string{peer, p.State}]++
		}
		for k, v := range states {
			ch <- prometheus.MustNewConstMetric(descIKESAs, prometheus.GaugeValue, v, k[0], k[1])
		}
		st := s.node.Stats()
		for k, v := range map[string]uint64{"malformed": st.Malformed, "no-sa": st.NoSA, "duplicate": st.Duplicates,
			"half-open-refused": st.HalfOpenRefused, "auth-failed": st.AuthFailed, "decrypt": st.Decrypt,
			"xauth-failed": st.XAuthFailed, "xauth-timeout": st.XAuthTimeout, "mode-config-failed": st.ModeConfigFailed,
			"no-profile": st.NoProfile, "qm-limit": st.QMLimit, "cert-missing": st.CertMissing, "cert-encoding": st.CertEncoding,
			"cert-untrusted": st.CertUntrusted, "cert-expired": st.CertExpired, "cert-invalid": st.CertInvalid,
			"cert-id-mismatch": st.CertIDMismatch, "signature-invalid": st.SigInvalid} {
			drops[k] += v
		}
		s.mu.Lock()
		infos := make([]*saInfo, 0, len(s.sas))
		for _, i := range s.sas {
			infos = append(infos, i)
		}
		s.mu.Unlock()
		for _, i := range infos {
			peer, spi := i.child.Peer.Addr().String(), fmt.Sprintf("0x%08x", i.child.SPIIn)
			x := i.sa.Stats()
			counter := func(d *prometheus.Desc, v uint64, l string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), peer, spi, l)
			}
			counter(descIPsecPkts, x.Out.Encaps, "encaps")
			counter(descIPsecPkts, x.In.Decaps, "decaps")
			counter(descIPsecBytes, x.Out.OctetsOut, "out")
			counter(descIPsecBytes, x.In.OctetsIn, "in")
			counter(descIPsecErrs, x.In.ReplayFailed, "replay")
			counter(descIPsecErrs, x.In.VerifyFailed, "verify")
			counter(descIPsecErrs, x.In.InvalidLen+x.In.BadPadding+x.In.Short, "invalid")
			counter(descIPsecErrs, x.PolicyDrops, "policy")
			counter(descIPsecErrs, x.SendErrors, "send")
		}
	}
	for k, v := range drops {
		ch <- prometheus.MustNewConstMetric(descIKEDrops, prometheus.CounterValue, float64(v), k)
	}
	if ezAny {
		for k, v := range ezGroups {
			ch <- prometheus.MustNewConstMetric(descEzGroups, prometheus.CounterValue, float64(v), k)
		}
		ch <- prometheus.MustNewConstMetric(descEzCache, prometheus.GaugeValue, float64(ezEntries))
	}
}
