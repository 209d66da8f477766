package netif

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// rtnl is one NETLINK_ROUTE socket, bound to the network namespace of the
// thread that opened it, carrying one request at a time with reused
// buffers.
type rtnl struct {
	mu     sync.Mutex
	fd     int
	closed bool
	seq    uint32
	m      nlBuilder
	rbuf   []byte
}

// rtnlTimeout bounds the wait for the kernel's answer.
const rtnlTimeout = 10 // seconds

// rtnlBufLen holds the largest message batch the kernel sends in one
// datagram to a dump (it caps them at 32 KiB).
const rtnlBufLen = 64 << 10

func openRTNL() (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netif: netlink socket: %w", err)
	}
	// Best effort, each: error strings in the kernel's answers (4.12),
	// acknowledgements without a copy of the request (4.3), and dumps
	// filtered in the kernel by interface (4.20).
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: rtnlTimeout}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netif: netlink socket timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netif: netlink bind: %w", err)
	}
	return &rtnl{fd: fd, rbuf: make([]byte, rtnlBufLen)}, nil
}

func (c *rtnl) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		unix.Close(c.fd)
	}
}

var errRTNLClosed = errors.New("netif: netlink handle closed")

// errDumpInterrupted: the kernel's tables changed during a dump
// (NLM_F_DUMP_INTR); the caller asks again.
var errDumpInterrupted = errors.New("netif: netlink dump interrupted")

// kernelError is an error the kernel answered, with its extended
// acknowledgement message when it gave one.
type kernelError struct {
	errno unix.Errno
	msg   string
}

func (e *kernelError) Error() string {
	if e.msg == "" {
		return e.errno.Error()
	}
	return e.errno.Error() + " (" + e.msg + ")"
}

func (e *kernelError) Unwrap() error { return e.errno }

func (e *kernelError) Is(target error) bool {
	return target == ErrNoDevice && e.errno == unix.ENODEV
}

// do sends the request that build appends (with sequence number seq) and
// reads the answer. A request (dump false) expects an acknowledgement; a
// dump passes each message of its answer to each until NLMSG_DONE.
func (c *rtnl) do(dump bool, build func(m *nlBuilder, seq uint32), each func(typ uint16, body []byte) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errRTNLClosed
	}
	c.seq++
	seq := c.seq
	c.m.b = c.m.b[:0]
	build(&c.m, seq)
	if err := unix.Sendto(c.fd, c.m.b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netif: netlink send: %w", err)
	}
	interrupted := false
	var eachErr error
	// Each pass reads one datagram; a dump of the largest table takes a
	// few thousand, and the socket's timeout ends a silent kernel.
	for range 1 << 20 {
		n, _, err := unix.Recvfrom(c.fd, c.rbuf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				return fmt.Errorf("netif: no netlink answer in %d s", rtnlTimeout)
			}
			return fmt.Errorf("netif: netlink receive: %w", err)
		}
		it := nlMsgs{b: c.rbuf[:n]}
		for it.next() {
			if it.seq != seq {
				continue // the rest of an abandoned answer
			}
			if it.flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch it.typ {
			case unix.NLMSG_NOOP:
			case unix.NLMSG_ERROR:
				errno, msg, err := nlError(it.body, it.flags)
				if err != nil {
					return err
				}
				if errno != 0 {
					return &kernelError{errno: errno, msg: msg}
				}
				if !dump {
					return nil
				}
			case unix.NLMSG_DONE:
				if !dump {
					continue
				}
				if interrupted {
					return errDumpInterrupted
				}
				return eachErr
			default:
				if each != nil && eachErr == nil {
					eachErr = each(it.typ, it.body)
				}
			}
		}
		if it.err != nil {
			return it.err
		}
	}
	return errors.New("netif: netlink answer without an end")
}

// dumpRetry runs a dump again while the kernel reports it interrupted.
func (c *rtnl) dumpRetry(reset func(), build func(m *nlBuilder, seq uint32), each func(typ uint16, body []byte) error) error {
	var err error
	for range 5 {
		reset()
		if err = c.do(true, build, each); !errors.Is(err, errDumpInterrupted) {
			return err
		}
	}
	return err
}

// ifindex looks a link's index up by name (SIOCGIFINDEX). A netlink
// socket answers the interface ioctls of its network namespace.
func (c *rtnl) ifindex(name string) (int32, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("netif: link %q: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errRTNLClosed
	}
	if err := unix.IoctlIfreq(c.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errno, ok := err.(unix.Errno); ok {
			return 0, &kernelError{errno: errno}
		}
		return 0, err
	}
	return int32(ifr.Uint32()), nil
}
