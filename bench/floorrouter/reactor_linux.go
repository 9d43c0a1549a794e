package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// reactor reads every socket from one epoll instance on one locked thread.
type reactor struct {
	epfd    int
	wakeR   int // a pipe: stop writes to wakeW, which ends run
	wakeW   int
	mu      sync.Mutex // guards conns: acceptLoop adds, run removes
	conns   map[int32]*floorConn
	callee  *floorConn // the one registered callee
	nextID  uint64
	pending [1 << 16]pendingCall // in-flight calls by invocation ID (≤ 65,536 at once)
	dirty   []*floorConn         // sockets with something to write after this wakeup
	scratch []byte
}

type pendingCall struct {
	caller *floorConn
	req    uint64
}

// floorConn is one WebSocket connection: bytes read but not yet handled, and frames to write.
type floorConn struct {
	fd      int
	in      []byte
	out     []byte
	queued  bool // in dirty
	closing bool // close once out is written
}

const registrationID = 1

func newReactor() (*reactor, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	r := &reactor{epfd: epfd, wakeR: p[0], wakeW: p[1], conns: map[int32]*floorConn{}}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(r.wakeR)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, r.wakeR, &ev); err != nil {
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return r, nil
}

// stop ends run.
func (r *reactor) stop() { syscall.Write(r.wakeW, []byte{wakeStop}) }

// What a byte on the wake pipe asks of run.
const (
	wakeStop  = 's'
	wakeEarly = 'e' // a connection's first bytes came with its handshake
)

// acceptLoop upgrades each connection to WebSocket and hands its socket to the reactor.
func (r *reactor) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if err := r.adopt(c); err != nil {
			c.Close()
		}
	}
}

func (r *reactor) adopt(c net.Conn) error {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if key == "" || !strings.Contains(req.Header.Get("Sec-WebSocket-Protocol"), "wamp.2.json") {
		fmt.Fprint(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		return errors.New("not a WAMP JSON WebSocket handshake")
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if _, err := fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:])); err != nil {
		return err
	}
	early, _ := br.Peek(br.Buffered())
	// The reactor reads and writes a copy of the descriptor itself; Go's poller lets go of its own.
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	if cerr := rc.Control(func(s uintptr) { fd, err = syscall.Dup(int(s)) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	c.Close()
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return err
	}
	fc := &floorConn{fd: fd, in: append(make([]byte, 0, 64<<10), early...), out: make([]byte, 0, 64<<10)}
	r.mu.Lock()
	r.conns[int32(fd)] = fc
	r.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)} // level-triggered
	if err := syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		r.mu.Lock()
		delete(r.conns, int32(fd))
		r.mu.Unlock()
		syscall.Close(fd)
		return err
	}
	if len(early) > 0 {
		syscall.Write(r.wakeW, []byte{wakeEarly})
	}
	return nil
}

// run serves until stop: wait, read each ready socket once, handle what it brought, then write
// each socket that has something to send, once.
func (r *reactor) run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]syscall.EpollEvent, 256)
	ready := make([]*floorConn, 0, 256)
	for {
		timeout := -1
		if len(r.dirty) > 0 { // a write left bytes behind: try again soon
			timeout = 1
		}
		n, err := syscall.EpollWait(r.epfd, events, timeout)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		ready = ready[:0]
		woken := false
		r.mu.Lock()
		for _, ev := range events[:n] {
			if int(ev.Fd) == r.wakeR {
				woken = true
				continue
			}
			if c := r.conns[ev.Fd]; c != nil {
				ready = append(ready, c)
			}
		}
		r.mu.Unlock()
		for _, c := range ready {
			r.readAndHandle(c)
		}
		if woken {
			var b [64]byte
			n, _ := syscall.Read(r.wakeR, b[:])
			if bytes.IndexByte(b[:max(n, 0)], wakeStop) >= 0 {
				r.closeAll()
				return nil
			}
			r.handleEarly()
		}
		r.flush()
	}
}

// handleEarly handles the bytes that came with a connection's handshake.
func (r *reactor) handleEarly() {
	r.mu.Lock()
	var early []*floorConn
	for _, c := range r.conns {
		if len(c.in) > 0 {
			early = append(early, c)
		}
	}
	r.mu.Unlock()
	for _, c := range early {
		r.handleFrames(c)
	}
}

func (r *reactor) readAndHandle(c *floorConn) {
	if len(c.in) == cap(c.in) {
		r.drop(c) // a message over 64 KiB: not this benchmark's
		return
	}
	n, err := syscall.Read(c.fd, c.in[len(c.in):cap(c.in)])
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || n == 0 {
		r.drop(c)
		return
	}
	c.in = c.in[:len(c.in)+n]
	r.handleFrames(c)
}

// handleFrames handles every whole frame in c.in and keeps the rest.
func (r *reactor) handleFrames(c *floorConn) {
	b := c.in
frames:
	for len(b) >= 2 {
		op, masked, size := b[0]&0x0f, b[1]&0x80 != 0, int(b[1]&0x7f)
		head := 2
		switch size {
		case 126:
			if len(b) < 4 {
				break frames
			}
			size, head = int(b[2])<<8|int(b[3]), 4
		case 127:
			if len(b) < 10 {
				break frames
			}
			size, head = 0, 10
			for _, x := range b[2:10] {
				size = size<<8 | int(x)
			}
		}
		if masked {
			head += 4
		}
		if len(b) < head+size {
			break
		}
		payload := b[head : head+size]
		if masked {
			mask := b[head-4 : head]
			for i := range payload {
				payload[i] ^= mask[i&3]
			}
		}
		switch op {
		case 1, 2:
			r.handleMessage(c, payload)
		case 8:
			r.send(c, 0x88, nil)
			c.closing = true
		case 9:
			r.send(c, 0x8a, payload)
		}
		b = b[head+size:]
	}
	c.in = c.in[:copy(c.in, b)]
}

// handleMessage answers one WAMP message. It reads only what it forwards: the message type,
// the request ID, and where the arguments begin.
func (r *reactor) handleMessage(c *floorConn, m []byte) {
	s := scanner{b: m}
	if !s.open() {
		return
	}
	typ, ok := s.uint()
	if !ok {
		return
	}
	switch typ {
	case 1: // HELLO → WELCOME
		r.nextID++
		r.reply(c, "[2,", r.nextID, `,{"roles":{"dealer":{},"broker":{}}}]`, nil)
	case 6: // GOODBYE → GOODBYE
		r.send(c, 0x81, []byte(`[6,{},"wamp.close.goodbye_and_out"]`))
	case 64: // REGISTER → REGISTERED
		req, ok := s.uint()
		if ok {
			r.callee = c
			r.reply(c, "[65,", req, ","+strconv.Itoa(registrationID)+"]", nil)
		}
	case 48: // CALL [48, req, {options}, "procedure", args…] → INVOCATION to the callee
		req, ok := s.uint()
		if !ok || !s.skipN(2) {
			return
		}
		if r.callee == nil {
			r.reply(c, "[8,48,", req, `,{},"wamp.error.no_such_procedure"]`, nil)
			return
		}
		r.nextID++
		r.pending[r.nextID&uint64(len(r.pending)-1)] = pendingCall{caller: c, req: req}
		r.reply(r.callee, "[68,", r.nextID, ","+strconv.Itoa(registrationID)+",{}", s.rest())
	case 70: // YIELD [70, invocation, {options}, args…] → RESULT to its caller
		inv, ok := s.uint()
		if !ok || !s.skip() {
			return
		}
		p := &r.pending[inv&uint64(len(r.pending)-1)]
		if p.caller == nil {
			return
		}
		r.reply(p.caller, "[50,", p.req, ",{}", s.rest())
		*p = pendingCall{}
	}
}

// reply queues the text frame head + id + mid + tail.
func (r *reactor) reply(c *floorConn, head string, id uint64, mid string, tail []byte) {
	m := append(r.scratch[:0], head...)
	m = strconv.AppendUint(m, id, 10)
	m = append(m, mid...)
	m = append(m, tail...)
	r.scratch = m
	r.send(c, 0x81, m)
}

// send queues one unmasked frame.
func (r *reactor) send(c *floorConn, first byte, payload []byte) {
	if c.fd < 0 {
		return
	}
	switch n := len(payload); {
	case n < 126:
		c.out = append(c.out, first, byte(n))
	case n < 1<<16:
		c.out = append(c.out, first, 126, byte(n>>8), byte(n))
	default:
		c.out = append(c.out, first, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	c.out = append(c.out, payload...)
	if !c.queued {
		c.queued = true
		r.dirty = append(r.dirty, c)
	}
}

// flush writes each socket that has something to send, once; what a full socket did not take
// waits for the next round.
func (r *reactor) flush() {
	keep := r.dirty[:0]
	for _, c := range r.dirty {
		if c.fd < 0 {
			continue
		}
		n, err := syscall.Write(c.fd, c.out)
		if err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
			r.drop(c)
			continue
		}
		c.out = c.out[:copy(c.out, c.out[max(n, 0):])]
		if len(c.out) > 0 {
			keep = append(keep, c)
			continue
		}
		c.queued = false
		if c.closing {
			r.drop(c)
		}
	}
	clear(r.dirty[len(keep):])
	r.dirty = keep
}

func (r *reactor) drop(c *floorConn) {
	if c.fd < 0 {
		return
	}
	syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	syscall.Close(c.fd)
	r.mu.Lock()
	delete(r.conns, int32(c.fd))
	r.mu.Unlock()
	c.fd = -1
	if r.callee == c {
		r.callee = nil
	}
}

func (r *reactor) closeAll() {
	r.mu.Lock()
	all := make([]*floorConn, 0, len(r.conns))
	for _, c := range r.conns {
		all = append(all, c)
	}
	r.mu.Unlock()
	for _, c := range all {
		r.drop(c)
	}
	syscall.Close(r.wakeR)
	syscall.Close(r.wakeW)
	syscall.Close(r.epfd)
}
