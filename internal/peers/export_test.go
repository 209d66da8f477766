package peers

// Exported for the tests of package peers_test.
var (
	VPNCmdFailures = vpncmdFailures
	SSHasListener  = ssHasListener
)

// SyslogSink is exported for TestSyslogSink.
var SyslogSink = syslogSink
