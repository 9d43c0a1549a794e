package client

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// Authentication methods (HELLO.Details.authmethods).
const (
	AuthAnonymous  = "anonymous"
	AuthTicket     = "ticket"
	AuthWAMPCRA    = "wampcra"
	AuthSCRAM      = "wamp-scram"
	AuthCryptosign = "cryptosign"
)

// ErrCannotAuthenticate is the reason a client gives the router when it cannot answer a
// CHALLENGE (no credentials for the method, a rogue challenge, a failed server verification).
const ErrCannotAuthenticate wamp.URI = "wamp.error.cannot_authenticate"

// Credentials answer the router's CHALLENGEs, one field per authentication method.
type Credentials struct {
	// Ticket is sent as is for authmethod "ticket".
	Ticket string
	// Secret is the WAMP-CRA shared secret. When the router's challenge carries a salt, the
	// client derives the salted key (PBKDF2) itself.
	Secret string
	// Password is the WAMP-SCRAM password.
	Password string
	// PrivateKey signs WAMP-Cryptosign challenges; its public key goes in
	// HELLO.Details.authextra.pubkey.
	PrivateKey ed25519.PrivateKey
	// ChannelBinding binds cryptosign and wamp-scram to the TLS connection (wss:// only):
	// auth.ChannelTLSUnique (TLS 1.2) or auth.ChannelTLSExporter (TLS 1.3).
	ChannelBinding string
}

// ChallengeHandler answers a CHALLENGE with the AUTHENTICATE signature and extra.
type ChallengeHandler func(ctx context.Context, ch *wamp.Challenge) (signature string, extra wamp.Dict, err error)

// clientAuth is the client's side of authentication during one join.
type clientAuth struct {
	opts    Options
	conn    peer.Client
	methods []string
	extra   wamp.Dict

	scramNonce  string
	scramVerify []byte // expected ServerSignature once a SCRAM challenge was answered
}

func newClientAuth(opts Options, conn peer.Client) *clientAuth {
	a := &clientAuth{opts: opts, conn: conn, methods: opts.AuthMethods}
	cr := opts.Credentials
	if len(a.methods) == 0 {
		if cr.PrivateKey != nil {
			a.methods = append(a.methods, AuthCryptosign)
		}
		if cr.Password != "" {
			a.methods = append(a.methods, AuthSCRAM)
		}
		if cr.Secret != "" {
			a.methods = append(a.methods, AuthWAMPCRA)
		}
		if cr.Ticket != "" {
			a.methods = append(a.methods, AuthTicket)
		}
	}
	a.extra = wamp.Dict{}
	for k, v := range opts.AuthExtra {
		a.extra[k] = v
	}
	if slices.Contains(a.methods, AuthCryptosign) && cr.PrivateKey != nil {
		if _, ok := a.extra["pubkey"]; !ok {
			a.extra["pubkey"] = hex.EncodeToString(cr.PrivateKey.Public().(ed25519.PublicKey))
		}
	}
	if slices.Contains(a.methods, AuthSCRAM) || slices.Contains(a.methods, "scram") {
		nonce := make([]byte, 16)
		rand.Read(nonce)
		a.scramNonce = base64.StdEncoding.EncodeToString(nonce)
		a.extra["nonce"] = a.scramNonce
	}
	if cr.ChannelBinding != "" {
		a.extra["channel_binding"] = cr.ChannelBinding
	}
	return a
}

// hello adds the auth fields to HELLO.Details.
func (a *clientAuth) hello(details wamp.Dict) {
	if len(a.methods) > 0 {
		list := make(wamp.List, len(a.methods))
		for i, m := range a.methods {
			list[i] = m
		}
		details["authmethods"] = list
	}
	if a.opts.AuthID != "" {
		details["authid"] = a.opts.AuthID
	}
	if len(a.extra) > 0 {
		details["authextra"] = a.extra
	}
}

// challenge computes the answer to a CHALLENGE.
func (a *clientAuth) challenge(ctx context.Context, ch *wamp.Challenge) (string, wamp.Dict, error) {
	if a.opts.OnChallenge != nil {
		return a.opts.OnChallenge(ctx, ch)
	}
	cr := a.opts.Credentials
	if !slices.Contains(a.methods, ch.AuthMethod) {
		return "", nil, fmt.Errorf("router challenged with authmethod %q, which was not offered", ch.AuthMethod)
	}
	switch ch.AuthMethod {
	case AuthTicket:
		if cr.Ticket == "" {
			return "", nil, errors.New("ticket challenge, but no ticket")
		}
		return cr.Ticket, wamp.Dict{}, nil
	case AuthWAMPCRA:
		return a.answerCRA(ch.Extra)
	case AuthSCRAM, "scram":
		return a.answerSCRAM(ch.Extra)
	case AuthCryptosign:
		return a.answerCryptosign(ch.Extra)
	}
	return "", nil, fmt.Errorf("no credentials for authmethod %q", ch.AuthMethod)
}

func (a *clientAuth) answerCRA(extra wamp.Dict) (string, wamp.Dict, error) {
	secret := a.opts.Credentials.Secret
	if secret == "" {
		return "", nil, errors.New("wampcra challenge, but no secret")
	}
	challenge, ok := extra.String("challenge")
	if !ok {
		return "", nil, errors.New("wampcra challenge without challenge string")
	}
	key := secret
	if salt, ok := extra.String("salt"); ok {
		iterations, _ := extra.Int("iterations")
		keylen, _ := extra.Int("keylen")
		if iterations > 10_000_000 || keylen > 1024 {
			return "", nil, fmt.Errorf("wampcra challenge asks for %d iterations, keylen %d", iterations, keylen)
		}
		var err error
		if key, err = auth.CRADeriveKey(secret, salt, int(iterations), int(keylen)); err != nil {
			return "", nil, err
		}
	}
	return auth.CRASign([]byte(key), challenge), wamp.Dict{}, nil
}

func (a *clientAuth) answerSCRAM(extra wamp.Dict) (string, wamp.Dict, error) {
	cr := a.opts.Credentials
	if cr.Password == "" {
		return "", nil, errors.New("wamp-scram challenge, but no password")
	}
	nonce, _ := extra.String("nonce")
	saltText, _ := extra.String("salt")
	kdf, _ := extra.String("kdf")
	iterations, _ := extra.Int("iterations")
	memory, _ := extra.Int("memory")
	if !strings.HasPrefix(nonce, a.scramNonce) || len(nonce) == len(a.scramNonce) {
		return "", nil, errors.New("wamp-scram challenge nonce does not extend the client nonce")
	}
	salt, err := base64.StdEncoding.DecodeString(saltText)
	if err != nil {
		return "", nil, errors.New("wamp-scram challenge salt is not base64")
	}
	params := auth.ScramParams{KDF: kdf, Salt: salt, Iterations: int(iterations), Memory: int(memory)}
	salted, err := auth.SaltedPassword(cr.Password, params)
	if err != nil {
		return "", nil, err
	}
	x := auth.ScramExchange{AuthID: a.opts.AuthID, ClientNonce: a.scramNonce, Nonce: nonce, Salt: saltText,
		Iterations: int(iterations), ChannelBinding: cr.ChannelBinding}
	answer := wamp.Dict{"nonce": nonce, "channel_binding": nil, "cbind_data": nil}
	if cr.ChannelBinding != "" {
		if x.CBindData, err = auth.ChannelBinding(a.conn.Details().TLS, cr.ChannelBinding); err != nil {
			return "", nil, err
		}
		answer["channel_binding"] = cr.ChannelBinding
		answer["cbind_data"] = base64.StdEncoding.EncodeToString(x.CBindData)
	}
	msg, err := x.AuthMessage()
	if err != nil {
		return "", nil, err
	}
	_, _, serverKey := auth.ScramKeys(salted)
	a.scramVerify = auth.ScramServerSignature(serverKey, msg)
	return base64.StdEncoding.EncodeToString(auth.ScramClientProof(salted, msg)), answer, nil
}

func (a *clientAuth) answerCryptosign(extra wamp.Dict) (string, wamp.Dict, error) {
	cr := a.opts.Credentials
	if cr.PrivateKey == nil {
		return "", nil, errors.New("cryptosign challenge, but no private key")
	}
	text, _ := extra.String("challenge")
	challenge, err := hex.DecodeString(text)
	if err != nil || len(challenge) != auth.CryptosignChallengeSize {
		return "", nil, errors.New("cryptosign challenge is not 32 bytes of hex")
	}
	var channelID []byte
	if cr.ChannelBinding != "" {
		data, err := auth.ChannelBinding(a.conn.Details().TLS, cr.ChannelBinding)
		if err != nil {
			return "", nil, err
		}
		channelID = auth.CryptosignChannelID(data)
	}
	sig, err := auth.CryptosignSign(cr.PrivateKey, challenge, channelID)
	return sig, wamp.Dict{}, err
}

// welcome checks what WELCOME says about the router: for WAMP-SCRAM, its ServerSignature.
func (a *clientAuth) welcome(details wamp.Dict) error {
	if a.scramVerify == nil {
		return nil
	}
	extra, _ := details.Dict("authextra")
	v, ok := extra.String("verifier")
	if !ok {
		v, ok = extra.String("scram_server_signature")
	}
	if !ok {
		return errors.New("wamp-scram: WELCOME carries no server verifier")
	}
	sig, err := auth.ParseScramVerifier(v)
	if err != nil || !hmac.Equal(sig, a.scramVerify) {
		return errors.New("wamp-scram: the router's server signature is wrong")
	}
	return nil
}
