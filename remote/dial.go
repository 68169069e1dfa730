package remote

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configure a Dialer. The zero value uses ssh-agent (SSH_AUTH_SOCK)
// and the default key files.
type Options struct {
	// Signers are keys already loaded (tests, keys from a secret store).
	Signers []ssh.Signer
	// KeyFiles are private key files to log in with. nil means
	// ~/.ssh/id_ed25519, id_ecdsa and id_rsa when present; an empty non-nil
	// slice means none.
	KeyFiles []string
	// ConfigKeyFiles are key files named by the SSH client configuration
	// (SSHConfig's IdentityFile), tried after KeyFiles or the default ones;
	// one that is missing or protected by a passphrase is skipped, as a
	// default key file is.
	ConfigKeyFiles []string
	// HomeDir replaces the user's home directory when looking for default
	// key files.
	HomeDir string
	// AgentSocket is the ssh-agent socket; "" means $SSH_AUTH_SOCK.
	AgentSocket string
	// NoAgent ignores ssh-agent.
	NoAgent bool
	// KnownHostKeys pins host keys by Target.Address (host:port), in
	// authorized_keys form, e.g. the keys recorded in state. Target.HostKey
	// takes precedence.
	KnownHostKeys map[string]string
	// ConnectTimeout bounds TCP connect plus SSH handshake; 0 means 15s.
	ConnectTimeout time.Duration
	// MaxSessions bounds concurrent sessions on one connection; 0 means 8
	// (OpenSSH refuses more than 10 by default).
	MaxSessions int
	// KeepAlive is the interval of keepalive requests on idle connections;
	// 0 means 30s, negative disables them.
	KeepAlive time.Duration
	// DialContext opens every TCP connection the Dialer makes from this
	// machine: to a target, or to the first host of its jump chain. nil
	// means a net.Dialer. Tests pass a dial guard's (remote/dialguard).
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// CheckAddress, when set, is asked about every host:port before it is
	// dialled, directly or by a jump host on the Dialer's behalf; an error
	// refuses the dial, and is returned, before any packet is sent.
	CheckAddress func(address string) error
}

// Dialer keeps one SSH connection per target for a whole run and hands out
// Conns that share it. It is safe for concurrent use; Close ends every
// connection.
type Dialer struct {
	opts Options

	authOnce  sync.Once
	auth      []ssh.AuthMethod
	authDesc  string
	authErr   error
	agentConn net.Conn

	mu      sync.Mutex
	closed  bool
	clients map[string]*client
	fresh   map[*client]struct{} // DialFresh connections not closed yet
	seen    map[string]string    // address -> key the host presented
}

// NewDialer returns a Dialer; nothing is read or dialled until the first Dial.
func NewDialer(opts Options) *Dialer {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 15 * time.Second
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 8
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = 30 * time.Second
	}
	return &Dialer{
		opts:    opts,
		clients: map[string]*client{},
		fresh:   map[*client]struct{}{},
		seen:    map[string]string{},
	}
}

// client is one pooled SSH connection.
type client struct {
	ready    chan struct{} // closed once ssh and err are set
	ssh      *ssh.Client
	hostKey  string // authorized_keys form
	err      error
	sessions chan struct{} // semaphore of MaxSessions
	done     chan struct{} // closed when the connection ends
}

func (c *client) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Dial returns a Conn to t, connecting on first use and reusing the
// connection afterwards. Concurrent Dials of one target share one connection
// attempt. A connection that died is replaced on the next Dial.
func (d *Dialer) Dial(ctx context.Context, t Target) (*Conn, error) {
	t = t.withDefaults()
	key := t.poolKey()

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, fmt.Errorf("connect to %s: dialer is closed", t)
	}
	c := d.clients[key]
	if c != nil {
		select {
		case <-c.ready:
			if c.err != nil || !c.alive() {
				c = nil
			}
		default:
		}
	}
	owner := c == nil
	if owner {
		c = &client{ready: make(chan struct{}), done: make(chan struct{})}
		d.clients[key] = c
	}
	d.mu.Unlock()

	if owner {
		d.connect(ctx, t, c)
		if c.err != nil {
			d.mu.Lock()
			if d.clients[key] == c {
				delete(d.clients, key)
			}
			d.mu.Unlock()
		}
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to %s: %w", t, ctx.Err())
	}
	if c.err != nil {
		var mm *HostKeyMismatchError
		if !owner && errors.As(c.err, &mm) && mm.Host == t.Address() {
			// The attempt was made for a Target of the same host that pins
			// another key: judge the key seen by this Target's own pin.
			return d.redialAfterMismatch(ctx, t, mm)
		}
		return nil, c.err
	}
	// The connection may have been made for a Target with another (or no)
	// pinned key: check this Target's pin against the key actually seen.
	if want := d.pinnedKey(t); want != "" {
		if err := checkPinned(t.Address(), want, c.hostKey); err != nil {
			return nil, err
		}
	}
	return &Conn{c: c, target: t}, nil
}

// redialAfterMismatch answers a Dial that shared the failed attempt of a
// Target pinning another key: a mismatch for this Target's pin too, or, when
// its pin accepts the key seen, a new attempt of its own.
func (d *Dialer) redialAfterMismatch(ctx context.Context, t Target, mm *HostKeyMismatchError) (*Conn, error) {
	want := d.pinnedKey(t)
	if want == "" {
		return d.Dial(ctx, t)
	}
	if err := checkPinned(t.Address(), want, mm.Got); err != nil {
		return nil, err
	}
	return d.Dial(ctx, t)
}

// DialFresh opens a new SSH connection to t that the pool does not share:
// same authentication, and the host key checked against the same pins
// (Target.HostKey, Options.KnownHostKeys, else the key this run saw first).
// It proves that a new login still works, e.g. after a switch that may
// have broken sshd, PAM or the network, which a reused connection cannot
// show. The returned func closes the connection; Dialer.Close closes it too.
func (d *Dialer) DialFresh(ctx context.Context, t Target) (*Conn, func() error, error) {
	t = t.withDefaults()
	c, err := d.dialNew(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.ssh.Close()
		return nil, nil, fmt.Errorf("connect to %s: dialer is closed", t)
	}
	d.fresh[c] = struct{}{}
	d.mu.Unlock()
	var once sync.Once
	closeFn := func() error {
		var err error
		once.Do(func() {
			d.mu.Lock()
			delete(d.fresh, c)
			d.mu.Unlock()
			if err = c.ssh.Close(); errors.Is(err, net.ErrClosed) {
				err = nil
			}
		})
		return err
	}
	return &Conn{c: c, target: t}, closeFn, nil
}

// dialNew makes a connection outside the pool (for DialFresh and Reboot).
func (d *Dialer) dialNew(ctx context.Context, t Target) (*client, error) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("connect to %s: dialer is closed", t)
	}
	c := &client{ready: make(chan struct{}), done: make(chan struct{})}
	d.connect(ctx, t, c)
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// replacePooled makes c the pool's connection for t, closing the one it
// replaces (after a reboot it is dead, but may not know it yet).
func (d *Dialer) replacePooled(t Target, c *client) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.ssh.Close()
		return fmt.Errorf("connect to %s: dialer is closed", t)
	}
	old := d.clients[t.poolKey()]
	d.clients[t.poolKey()] = c
	d.mu.Unlock()
	if old != nil && old != c {
		go func() {
			<-old.ready // a Dial in progress finishes within ConnectTimeout
			if old.ssh != nil {
				old.ssh.Close()
			}
		}()
	}
	return nil
}

// HostKeys returns the keys hosts presented during this run, by address
// (host:port), in authorized_keys form: record them to pin the hosts later.
func (d *Dialer) HostKeys() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.seen)
}

// Close ends every connection and the ssh-agent connection. Conns handed out
// stop working.
func (d *Dialer) Close() error {
	d.mu.Lock()
	d.closed = true
	clients := slices.Collect(maps.Values(d.clients))
	for c := range d.fresh {
		clients = append(clients, c)
	}
	d.clients = map[string]*client{}
	d.fresh = map[*client]struct{}{}
	d.mu.Unlock()

	var errs []error
	for _, c := range clients {
		<-c.ready
		if c.ssh != nil {
			if err := c.ssh.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	if d.agentConn != nil {
		d.agentConn.Close()
	}
	return errors.Join(errs...)
}

// pinnedKey is the key t must present: its own HostKey, else the caller's
// known keys, else what this run saw first.
func (d *Dialer) pinnedKey(t Target) string {
	if t.HostKey != "" {
		return t.HostKey
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := d.opts.KnownHostKeys[t.Address()]; k != "" {
		return k
	}
	return d.seen[t.Address()]
}

func checkPinned(addr, want, got string) error {
	wantKey, err := parseHostKey(want)
	if err != nil {
		return fmt.Errorf("pinned host key of %s: %w", addr, err)
	}
	gotKey, err := parseHostKey(got)
	if err != nil {
		return fmt.Errorf("host key of %s: %w", addr, err)
	}
	if !sameKey(wantKey, gotKey) {
		return &HostKeyMismatchError{Host: addr, Want: want, Got: got}
	}
	return nil
}

// connect fills c and closes c.ready.
func (d *Dialer) connect(ctx context.Context, t Target, c *client) {
	defer close(c.ready)
	c.ssh, c.hostKey, c.err = d.handshake(ctx, t)
	if c.err != nil {
		close(c.done)
		return
	}
	c.sessions = make(chan struct{}, d.opts.MaxSessions)
	go func() {
		c.ssh.Wait()
		close(c.done)
	}()
	if d.opts.KeepAlive > 0 {
		go keepAlive(c, d.opts.KeepAlive)
	}
}

func (d *Dialer) handshake(ctx context.Context, t Target) (*ssh.Client, string, error) {
	d.authOnce.Do(func() { d.auth, d.authDesc, d.authErr = d.loadAuth() })
	if d.authErr != nil {
		return nil, "", fmt.Errorf("connect to %s: %w", t, d.authErr)
	}

	hctx, cancel := context.WithTimeout(ctx, d.opts.ConnectTimeout)
	defer cancel()

	addr := t.Address()
	want := d.pinnedKey(t)
	var wantKey ssh.PublicKey
	if want != "" {
		var err error
		if wantKey, err = parseHostKey(want); err != nil {
			return nil, "", fmt.Errorf("pinned host key of %s: %w", addr, err)
		}
	}
	raw, err := d.dialTCP(hctx, t)
	if err != nil {
		return nil, "", fmt.Errorf("connect to %s: %w", t, err)
	}
	// The handshake takes no context: closing the connection interrupts it.
	stop := context.AfterFunc(hctx, func() { raw.Close() })

	var (
		seen     string
		mismatch *HostKeyMismatchError
	)
	cfg := &ssh.ClientConfig{
		User: t.User,
		Auth: d.auth,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			seen = authorizedKey(key)
			if wantKey != nil && !sameKey(wantKey, key) {
				mismatch = &HostKeyMismatchError{Host: addr, Want: want, Got: seen}
				return mismatch
			}
			return nil
		},
		HostKeyAlgorithms: hostKeyAlgorithms(wantKey),
	}
	conn, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	stopped := stop()
	// A key that does not match is the answer, whatever else went wrong
	// after it was seen (the deadline, the connection closing).
	if mismatch != nil {
		if err == nil {
			conn.Close()
		}
		raw.Close()
		return nil, "", mismatch
	}
	if !stopped {
		if err == nil {
			conn.Close()
		}
		return nil, "", fmt.Errorf("connect to %s: %w", t, context.Cause(hctx))
	}
	if err != nil {
		raw.Close()
		hint := ""
		if strings.Contains(err.Error(), "unable to authenticate") {
			hint = fmt.Sprintf("; authentication failed: add the key to %s's authorized_keys, or pass the right one with --ssh-key", t.User)
		}
		return nil, "", fmt.Errorf("connect to %s (keys tried: %s): %w%s", t, d.authDesc, err, hint)
	}

	d.mu.Lock()
	if d.seen[addr] == "" {
		d.seen[addr] = seen
	}
	d.mu.Unlock()
	return ssh.NewClient(conn, chans, reqs), seen, nil
}

// RefusedError is a dial that Options.CheckAddress refused: no attempt
// was made, and none will succeed, so waiting for the host is pointless.
type RefusedError struct {
	Address string
	Err     error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// dialTCP opens the TCP connection to t's SSH server: directly, or through
// the pooled connection to its jump host (whose pin Dial enforces).
func (d *Dialer) dialTCP(ctx context.Context, t Target) (net.Conn, error) {
	if d.opts.CheckAddress != nil {
		if err := d.opts.CheckAddress(t.Address()); err != nil {
			return nil, &RefusedError{Address: t.Address(), Err: err}
		}
	}
	if t.Jump != nil {
		jump, err := d.Dial(ctx, *t.Jump)
		if err != nil {
			return nil, fmt.Errorf("jump host: %w", err)
		}
		return jump.c.ssh.DialContext(ctx, "tcp", t.Address())
	}
	if d.opts.DialContext != nil {
		return d.opts.DialContext(ctx, "tcp", t.Address())
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", t.Address())
}

// errKeySeen ends a ScanHostKey handshake once the host presented its key.
var errKeySeen = errors.New("host key seen")

// ScanHostKey returns the key t's host presents, in authorized_keys form
// ("TYPE BASE64"), as ssh-keyscan does: a handshake that accepts any key and
// closes before authenticating (the host logs no login, and no SSH key is
// needed unless t has a jump host). The key is of the type Dial asks for:
// the pinned key's (Target.HostKey, Options.KnownHostKeys, else the key this
// run saw first) when the host has one, else the host's preferred plain
// key, so that after a *HostKeyMismatchError it returns the key Dial saw.
// It does not check or record the key: compare its fingerprint out of band
// before pinning it. A jump host is reached with Dial, so its own pin must
// match.
func (d *Dialer) ScanHostKey(ctx context.Context, t Target) (string, error) {
	t = t.withDefaults()
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return "", fmt.Errorf("scan host key of %s: dialer is closed", t)
	}
	addr := t.Address()
	var pinned ssh.PublicKey
	if want := d.pinnedKey(t); want != "" {
		k, err := parseHostKey(want)
		if err != nil {
			return "", fmt.Errorf("pinned host key of %s: %w", addr, err)
		}
		pinned = k
	}

	hctx, cancel := context.WithTimeout(ctx, d.opts.ConnectTimeout)
	defer cancel()
	raw, err := d.dialTCP(hctx, t)
	if err != nil {
		return "", fmt.Errorf("scan host key of %s: %w", t, err)
	}
	defer raw.Close()
	stop := context.AfterFunc(hctx, func() { raw.Close() })
	defer stop()
	var seen string
	cfg := &ssh.ClientConfig{
		User: t.User,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			seen = authorizedKey(key)
			return errKeySeen
		},
		HostKeyAlgorithms: hostKeyAlgorithms(pinned),
	}
	conn, _, _, err := ssh.NewClientConn(raw, addr, cfg)
	if err == nil {
		conn.Close() // not reached: the callback always refuses
	}
	if seen != "" {
		return seen, nil
	}
	if hctx.Err() != nil {
		return "", fmt.Errorf("scan host key of %s: %w", t, context.Cause(hctx))
	}
	return "", fmt.Errorf("scan host key of %s: %w", t, err)
}

// keepAlive sends OpenSSH keepalive requests so idle connections survive NAT
// and firewalls during long builds; a connection that stops answering is
// closed, and the next Dial replaces it.
func keepAlive(c *client, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
			reply := make(chan error, 1)
			go func() {
				_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
				reply <- err
			}()
			select {
			case err := <-reply:
				if err != nil {
					c.ssh.Close()
					return
				}
			case <-time.After(3 * every):
				c.ssh.Close()
				return
			case <-c.done:
				return
			}
		}
	}
}
