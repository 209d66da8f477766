package ppp

import (
	"strconv"
	"strings"
	"testing"

	wire "github.com/vpdn/vpdn/wire/ppp"
)

// rfc1661Table is the state transition table of RFC 1661 §4.1 as printed
// there. The test parses it independently of the table in fsm.go and
// checks every cell.
const rfc1661Table = `
      | State
      |    0         1         2         3         4         5
Events| Initial   Starting  Closed    Stopped   Closing   Stopping
------+-----------------------------------------------------------
 Up   |    2     irc,scr/6     -         -         -         -
 Down |    -         -         0       tls/1       0         1
 Open |  tls/1       1     irc,scr/6     3r        5r        5r
 Close|    0       tlf/0       2         2         4         4
  TO+ |    -         -         -         -       str/4     str/5
  TO- |    -         -         -         -       tlf/2     tlf/3
 RCR+ |    -         -       sta/2 irc,scr,sca/8   4         5
 RCR- |    -         -       sta/2 irc,scr,scn/6   4         5
 RCA  |    -         -       sta/2     sta/3       4         5
 RCN  |    -         -       sta/2     sta/3       4         5
 RTR  |    -         -       sta/2     sta/3     sta/4     sta/5
 RTA  |    -         -         2         3       tlf/2     tlf/3
 RUC  |    -         -       scj/2     scj/3     scj/4     scj/5
 RXJ+ |    -         -         2         3         4         5
 RXJ- |    -         -       tlf/2     tlf/3     tlf/2     tlf/3
 RXR  |    -         -         2         3         4         5

      | State
      |    6         7         8           9
Events| Req-Sent  Ack-Rcvd  Ack-Sent    Opened
------+-----------------------------------------
 Up   |    -         -         -           -
 Down |    1         1         1         tld/1
 Open |    6         7         8           9r
 Close|irc,str/4 irc,str/4 irc,str/4 tld,irc,str/4
  TO+ |  scr/6     scr/6     scr/8         -
  TO- |  tlf/3p    tlf/3p    tlf/3p        -
 RCR+ |  sca/8   sca,tlu/9   sca/8   tld,scr,sca/8
 RCR- |  scn/6     scn/7     scn/6   tld,scr,scn/6
 RCA  |  irc/7     scr/6x  irc,tlu/9   tld,scr/6x
 RCN  |irc,scr/6   scr/6x  irc,scr/8   tld,scr/6x
 RTR  |  sta/6     sta/6     sta/6   tld,zrc,sta/5
 RTA  |    6         6         8       tld,scr/6
 RUC  |  scj/6     scj/7     scj/8       scj/9
 RXJ+ |    6         6         8           9
 RXJ- |  tlf/3     tlf/3     tlf/3   tld,irc,str/5
 RXR  |    6         7         8         ser/9
`

type rfcCell struct {
	legal bool
	next  State
	acts  []string
}

func parseRFCTable(t *testing.T) map[string][numStates]rfcCell {
	t.Helper()
	out := map[string][numStates]rfcCell{}
	base := 0
	for _, line := range strings.Split(rfc1661Table, "\n") {
		head, rest, ok := strings.Cut(line, "|")
		head = strings.TrimSpace(head)
		if !ok || head == "" || head == "Events" || strings.HasPrefix(head, "---") {
			if strings.Contains(line, "Req-Sent") {
				base = 6
			}
			continue
		}
		row := out[head]
		for i, f := range strings.Fields(rest) {
			c := rfcCell{}
			if f != "-" {
				c.legal = true
				f = strings.TrimRight(f, "rpx") // restart/passive/crossed notes
				acts, st, found := strings.Cut(f, "/")
				if !found {
					st, acts = acts, ""
				}
				n, err := strconv.Atoi(st)
				if err != nil {
					t.Fatalf("bad cell %q", f)
				}
				c.next = State(n)
				if acts != "" {
					c.acts = strings.Split(acts, ",")
				}
			}
			row[base+i] = c
		}
		out[head] = row
	}
	if len(out) != int(numEvents) {
		t.Fatalf("parsed %d event rows", len(out))
	}
	return out
}

// stubLayer records the layer actions the automaton takes.
type stubLayer struct{ ups, downs, starts, finishes, resets int }

func (s *stubLayer) resetOptions()                  { s.resets++ }
func (s *stubLayer) appendRequest(b []byte) []byte  { return append(b, 1, 4, 5, 220) }
func (s *stubLayer) judge([]byte, *judgement)       {}
func (s *stubLayer) gotAck([]byte)                  {}
func (s *stubLayer) gotNak([]byte)                  {}
func (s *stubLayer) gotReject([]byte)               {}
func (s *stubLayer) up()                            { s.ups++ }
func (s *stubLayer) down()                          { s.downs++ }
func (s *stubLayer) started()                       { s.starts++ }
func (s *stubLayer) finished()                      { s.finishes++ }
func (s *stubLayer) code(wire.Packet) (event, bool) { return evRUC, true }
func (s *stubLayer) optionName(t uint8) string      { return wire.LCPOptionName(t) }

// TestTransitionTableEveryCell drives each of the 160 cells of RFC 1661
// §4.1 and checks the next state, the actions in order, and their effects
// (packets sent, restart counter, timer, layer calls).
func TestTransitionTableEveryCell(t *testing.T) {
	rfc := parseRFCTable(t)
	sentCode := map[string]wire.Code{"scr": wire.ConfReq, "sca": wire.ConfAck, "scn": wire.ConfNak, "str": wire.TermReq, "sta": wire.TermAck, "scj": wire.CodeRej}
	cells := 0
	for e := event(0); e < numEvents; e++ {
		for s := State(0); s < numStates; s++ {
			want := rfc[e.String()][s]
			t.Run(e.String()+"/"+s.String(), func(t *testing.T) {
				clk := &manualClock{}
				out := &capture{}
				sp := &syncPost{}
				l, err := NewLink(Config{Post: sp.post, Output: out, Clock: clk, Rand: zeroRand{}})
				if err != nil {
					t.Fatal(err)
				}
				st := &stubLayer{}
				f := newFSM(l, wire.ProtoIPCP, st)
				var got []string
				f.trace = func(a action) { got = append(got, a.String()) }
				f.state = s
				f.restart = 7
				f.rx = wire.Packet{Code: wire.EchoReq, ID: 42, Data: []byte{0, 0, 0, 1}}
				f.rcode, f.reply = wire.ConfAck, []byte{3, 6, 1, 2, 3, 4}
				if strings.Contains(strings.Join(want.acts, ","), "scn") {
					f.rcode = wire.ConfNak
				}
				f.event(e)

				if !want.legal {
					if len(got) != 0 || f.state != s || len(out.frames) != 0 {
						t.Fatalf("illegal event acted: state %s, actions %v", f.state, got)
					}
					return
				}
				if f.state != want.next {
					t.Fatalf("next state %s, RFC says %s", f.state, want.next)
				}
				if strings.Join(got, ",") != strings.Join(want.acts, ",") {
					t.Fatalf("actions %v, RFC says %v", got, want.acts)
				}
				// Effects of each action.
				var codes []wire.Code
				for _, p := range out.packets(t, wire.ProtoIPCP) {
					codes = append(codes, p.Code)
				}
				var wantCodes []wire.Code
				count := map[string]int{}
				for _, a := range want.acts {
					count[a]++
					if c, ok := sentCode[a]; ok {
						wantCodes = append(wantCodes, c)
					}
				}
				if len(codes) != len(wantCodes) {
					t.Fatalf("sent %v, want %v", codes, wantCodes)
				}
				for i := range codes {
					if codes[i] != wantCodes[i] {
						t.Fatalf("sent %v, want %v", codes, wantCodes)
					}
				}
				if count["ser"] == 1 {
					if eps := out.packets(t, wire.ProtoLCP); len(eps) != 1 || eps[0].Code != wire.EchoRep || eps[0].ID != 42 {
						t.Fatalf("ser sent %v", eps)
					}
				}
				if st.ups != count["tlu"] || st.downs != count["tld"] || st.starts != count["tls"] || st.finishes != count["tlf"] {
					t.Fatalf("layer calls up %d down %d started %d finished %d", st.ups, st.downs, st.starts, st.finishes)
				}
				// Restart counter: irc loads Max-Terminate before str and
				// Max-Configure otherwise; each scr/str spends one.
				wantRestart := 7
				for i, a := range want.acts {
					switch a {
					case "irc":
						wantRestart = l.cfg.MaxConfigure
						if i+1 < len(want.acts) && want.acts[i+1] == "str" {
							wantRestart = l.cfg.MaxTerminate
						}
					case "zrc":
						wantRestart = 0
					case "scr", "str":
						wantRestart--
					}
				}
				if f.restart != wantRestart {
					t.Fatalf("restart counter %d, want %d", f.restart, wantRestart)
				}
				if f.timer.running() != timerRuns(f.state) && (count["scr"]+count["str"]+count["zrc"] > 0 || !timerRuns(f.state)) {
					t.Fatalf("timer running %v in %s", f.timer.running(), f.state)
				}
			})
			cells++
		}
	}
	if cells != int(numEvents)*int(numStates) {
		t.Fatalf("covered %d cells", cells)
	}
}

// TestStateStrings pins the IOS-style names used in debugs.
func TestStateStrings(t *testing.T) {
	if Opened.String() != "Open" || ReqSent.String() != "REQsent" || Initial.String() != "Initial" || State(99).String() != "State?" {
		t.Fatal(Opened, ReqSent)
	}
	if evRCRp.String() != "RCR+" || scr.String() != "scr" {
		t.Fatal(evRCRp, scr)
	}
}

type zeroRand struct{}

func (zeroRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(i + 1)
	}
	return len(b), nil
}
