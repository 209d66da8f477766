package peers

// Exported for the tests of package peers_test.
var (
	VPNCmdFailures = vpncmdFailures
	SSHasListener  = ssHasListener
)
