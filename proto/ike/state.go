package ike

// p1State is a phase-1 state as IOS's debug names it.
type p1State uint8

const (
	stReady p1State = iota
	stIMM1
	stIMM2
	stIMM3
	stIMM4
	stIMM5
	stIMM6
	stRMM1
	stRMM2
	stRMM3
	stRMM4
	stRMM5
	stIAM1
	stIAM2
	stRAM1
	stRAM2
	stP1Complete
	stDestSA
)

var p1Names = [...]string{"IKE_READY", "IKE_I_MM1", "IKE_I_MM2", "IKE_I_MM3", "IKE_I_MM4", "IKE_I_MM5", "IKE_I_MM6",
	"IKE_R_MM1", "IKE_R_MM2", "IKE_R_MM3", "IKE_R_MM4", "IKE_R_MM5", "IKE_I_AM1", "IKE_I_AM2", "IKE_R_AM1", "IKE_R_AM2",
	"IKE_P1_COMPLETE", "IKE_DEST_SA"}

func (s p1State) String() string { return p1Names[s] }

// show is the state as `show crypto isakmp sa` prints it.
func (s p1State) show() string {
	switch s {
	case stIMM2, stIMM3, stRMM1, stRMM2, stRMM3:
		return "MM_SA_SETUP"
	case stIMM4, stIMM5, stIMM6, stRMM4, stRMM5:
		return "MM_KEY_EXCH"
	case stIAM1, stIAM2, stRAM1, stRAM2:
		return "AG_INIT_EXCH"
	case stP1Complete:
		return "QM_IDLE"
	}
	return "MM_NO_STATE"
}

// qmState is a quick-mode state as IOS's debug names it.
type qmState uint8

const (
	qmReady qmState = iota
	qmIQM1
	qmRQM1
	qmRQM2
	qmInstallAwait
	qmComplete
)

var qmNames = [...]string{"IKE_QM_READY", "IKE_QM_I_QM1", "IKE_QM_R_QM1", "IKE_QM_R_QM2", "IKE_QM_IPSEC_INSTALL_AWAIT", "IKE_QM_PHASE2_COMPLETE"}

func (s qmState) String() string { return qmNames[s] }
