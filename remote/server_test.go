package remote_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
)

// testServer is an in-process SSH server for protocol-level tests: it
// authenticates one client key, runs commands through a Go handler instead
// of a shell, and forwards direct-tcpip channels (so it can be a jump host).
type testServer struct {
	addr        string
	hostKeyLine string
	logins      atomic.Int32
	sessions    atomic.Int32 // sessions open right now
	running     atomic.Int32 // commands running right now
	maxRunning  atomic.Int32 // most commands seen running at once

	mu    sync.Mutex
	cmds  []string
	conns []*ssh.ServerConn
}

// session is what a handler sees of one exec request.
type session struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	closed         <-chan struct{} // the client closed the session
}

type handler func(cmd string, s session) int

func newKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyLine(k ssh.PublicKey) string { return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) }

func newTestServer(t *testing.T, client ssh.PublicKey, h handler) *testServer {
	t.Helper()
	hostKey := newKey(t)
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(client.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		},
	}
	cfg.AddHostKey(hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: l.Addr().String(), hostKeyLine: keyLine(hostKey.PublicKey())}
	t.Cleanup(func() {
		l.Close()
		s.dropConnections()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c, cfg, h)
		}
	}()
	return s
}

// target reaches the server with no pinned key.
func (s *testServer) target() remote.Target {
	a := s.tcpAddr()
	return remote.Target{Host: a.IP.String(), Port: a.Port}
}

func (s *testServer) tcpAddr() *net.TCPAddr {
	a, _ := net.ResolveTCPAddr("tcp", s.addr)
	return a
}

func (s *testServer) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// dropConnections closes every client connection, as a host reboot would.
func (s *testServer) dropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *testServer) serve(c net.Conn, cfg *ssh.ServerConfig, h handler) {
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	s.logins.Add(1)
	s.mu.Lock()
	s.conns = append(s.conns, conn)
	s.mu.Unlock()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, chReqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go s.session(ch, chReqs, h)
		case "direct-tcpip":
			go forward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request, h handler) {
	s.sessions.Add(1)
	defer s.sessions.Add(-1)
	closed := make(chan struct{})
	started := false
	for req := range reqs {
		if req.Type != "exec" || started {
			req.Reply(false, nil)
			continue
		}
		started = true
		var payload struct{ Cmd string }
		ssh.Unmarshal(req.Payload, &payload)
		req.Reply(true, nil)
		s.mu.Lock()
		s.cmds = append(s.cmds, payload.Cmd)
		s.mu.Unlock()
		go func() {
			n := s.running.Add(1)
			for {
				m := s.maxRunning.Load()
				if n <= m || s.maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			code := h(payload.Cmd, session{stdin: ch, stdout: ch, stderr: ch.Stderr(), closed: closed})
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, uint32(code))
			s.running.Add(-1)
			ch.SendRequest("exit-status", false, status)
			ch.Close()
		}()
	}
	close(closed) // the client closed the channel
}

// forward serves a direct-tcpip channel, as a jump host does.
func forward(nc ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	target, err := net.Dial("tcp", net.JoinHostPort(p.Host, fmt.Sprint(p.Port)))
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		target.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		io.Copy(ch, target)
		ch.CloseWrite()
	}()
	io.Copy(target, ch)
	target.Close()
}
