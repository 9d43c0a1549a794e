package auth

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// Values computed with Autobahn|Python 22.7.1 (autobahn.wamp.auth.derive_key, compute_wcs).
func TestCRA(t *testing.T) {
	key, err := CRADeriveKey("secret", "salt123", 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	if key != "MDS8Yxpu4J/vkHJ8dNEgqECYsI0uRDh2oZ5eN0vYPvo=" {
		t.Errorf("derived key %s", key)
	}
	const challenge = `{"nonce":"abc"}`
	if sig := CRASign([]byte(key), challenge); sig != "1yjoMQwXtk9BekkI/7tFGh6IsGdvFLL7wlw8MKj5bDY=" {
		t.Errorf("salted signature %s", sig)
	}
	if sig := CRASign([]byte("secret"), challenge); sig != "KgM1S8zsWzheLNlOasKUM1Th08uiNvI6lDclS/FM5fk=" {
		t.Errorf("unsalted signature %s", sig)
	}
	if !CRAVerify([]byte("secret"), challenge, "KgM1S8zsWzheLNlOasKUM1Th08uiNvI6lDclS/FM5fk=") {
		t.Error("valid signature refused")
	}
	for _, bad := range []string{"", "KgM1S8zsWzheLNlOasKUM1Th08uiNvI6lDclS/FM5fg=", "not base64", "KgM1"} {
		if CRAVerify([]byte("secret"), challenge, bad) {
			t.Errorf("signature %q accepted", bad)
		}
	}
}

// The SCRAM-SHA-256 example of RFC 7677 section 3, which the WAMP spec's example reuses.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	p := ScramParams{KDF: KDFPBKDF2, Salt: salt, Iterations: 4096}
	salted, err := SaltedPassword("pencil", p)
	if err != nil {
		t.Fatal(err)
	}
	x := ScramExchange{AuthID: "user", ClientNonce: "rOprNGfwEbeRWgbNEkqO",
		Nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		Salt:  "W22ZaJ0SNY7soEsUEjb6gQ==", Iterations: 4096}
	msg, err := x.AuthMessage()
	if err != nil {
		t.Fatal(err)
	}
	want := "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	if msg != want {
		t.Fatalf("AuthMessage\n got %s\nwant %s", msg, want)
	}
	proof := ScramClientProof(salted, msg)
	if got := base64.StdEncoding.EncodeToString(proof); got != "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=" {
		t.Errorf("ClientProof %s", got)
	}
	cred, err := NewScramCredential("pencil", p)
	if err != nil {
		t.Fatal(err)
	}
	if !ScramVerifyProof(cred.StoredKey, msg, proof) {
		t.Error("router refused the RFC's proof")
	}
	bad := append([]byte(nil), proof...)
	bad[0] ^= 1
	if ScramVerifyProof(cred.StoredKey, msg, bad) || ScramVerifyProof(cred.StoredKey, msg+"x", proof) || ScramVerifyProof(cred.StoredKey, msg, proof[:31]) {
		t.Error("router accepted a wrong proof")
	}
	if v := ScramVerifier(ScramServerSignature(cred.ServerKey, msg)); v != "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("verifier %s", v)
	}
	for _, v := range []string{"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="} {
		if sig, err := ParseScramVerifier(v); err != nil || !bytes.Equal(sig, ScramServerSignature(cred.ServerKey, msg)) {
			t.Errorf("ParseScramVerifier(%s) = %x, %v", v, sig, err)
		}
	}
}

// The argon2id-13 variant, against Autobahn|Python 22.7.1 (_hash_argon2id13_secret) and the
// raw argon2id output (argon2-cffi hash_secret_raw).
func TestScramArgon2(t *testing.T) {
	salt := []byte("saltsaltsaltsalt")
	raw, err := SaltedPassword("pencil", ScramParams{KDF: KDFArgon2id13, Salt: salt, Iterations: 3, Memory: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(raw) != "089cdca3a5dc14a243ad60663cffdb5bc277783629c1a674bbc82967beddae83" {
		t.Errorf("argon2id13 %x", raw)
	}
	cred, err := NewScramCredential("pencil", ScramParams{KDF: KDFArgon2id13Autobahn, Salt: salt, Iterations: 3, Memory: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(cred.StoredKey); got != "VW2DvmeJDeK885rsc4G6kbjuB5GsE0HEvpk14JQTMhQ=" {
		t.Errorf("stored key %s", got)
	}
	if got := base64.StdEncoding.EncodeToString(cred.ServerKey); got != "85DSiwd4hEnQT7h8rp/bkcZ5Of5KTmklr/x4En9dvRY=" {
		t.Errorf("server key %s", got)
	}
}

func TestScramParamsCheck(t *testing.T) {
	for _, p := range []ScramParams{
		{KDF: "md5", Salt: []byte("s"), Iterations: 5000},
		{KDF: KDFPBKDF2, Salt: []byte("s"), Iterations: 10},
		{KDF: KDFPBKDF2, Iterations: 5000},
		{KDF: KDFArgon2id13, Salt: []byte("s"), Iterations: 1, Memory: 1},
		{KDF: KDFArgon2id13, Salt: []byte("s"), Iterations: 0, Memory: 1024},
		{KDF: KDFArgon2id13, Salt: []byte("s"), Iterations: 1, Memory: 1 << 30},
	} {
		if err := p.Check(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

func TestScramAuthMessageEscapes(t *testing.T) {
	x := ScramExchange{AuthID: "a,b=c", ClientNonce: "n", Nonce: "nm", Salt: "s", Iterations: 1,
		ChannelBinding: "tls-exporter", CBindData: []byte{1, 2}}
	msg, err := x.AuthMessage()
	if err != nil {
		t.Fatal(err)
	}
	cb := base64.StdEncoding.EncodeToString([]byte("p=tls-exporter,,\x01\x02"))
	if want := "n=a=2Cb=3Dc,r=n,r=nm,s=s,i=1,c=" + cb + ",r=nm"; msg != want {
		t.Errorf("got %s want %s", msg, want)
	}
	ab, _ := x.AutobahnAuthMessage()
	if want := "n=a,b=c,r=n,r=nm,s=s,i=1,c=tls-exporter,r=nm"; ab != want {
		t.Errorf("autobahn variant %s", ab)
	}
}

func TestSASLprep(t *testing.T) {
	for in, want := range map[string]string{
		"user":            "user",
		"I\u00ADX":        "IX",  // RFC 4013 example: soft hyphen mapped to nothing
		"\u00AA":          "a",   // NFKC
		"\u2168":          "IX",  // NFKC
		"a\u00A0b":        "a b", // non-ASCII space
		"caf\u0065\u0301": "caf\u00e9",
	} {
		got, err := SASLprep(in)
		if err != nil || got != want {
			t.Errorf("SASLprep(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"\u0007", "a\x00b", "\uE000", "\xff", "\u200E"} {
		if got, err := SASLprep(bad); err == nil {
			t.Errorf("SASLprep(%q) = %q, want an error", bad, got)
		}
	}
}

// The test vectors of the WAMP spec's cryptosign section.
func TestCryptosignVectors(t *testing.T) {
	vectors := []struct{ channel, key, challenge, signature string }{
		{"", "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510",
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			"b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
		{"", "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd",
			"b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
			"d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d"},
		{"", "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b",
			"b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
			"7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2"},
		{"62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510",
			"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			"9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00"},
		{"62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd",
			"b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
			"305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282"},
		{"62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b",
			"b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
			"ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d"},
	}
	for i, v := range vectors {
		key, err := ParsePrivateKey(v.key)
		if err != nil {
			t.Fatal(err)
		}
		challenge, _ := hex.DecodeString(v.challenge)
		var channel []byte
		if v.channel != "" {
			channel, _ = hex.DecodeString(v.channel)
		}
		sig, err := CryptosignSign(key, challenge, channel)
		if err != nil {
			t.Fatal(err)
		}
		if sig != v.signature {
			t.Errorf("vector %d: signature\n got %s\nwant %s", i, sig, v.signature)
		}
		pub := key.Public().(ed25519.PublicKey)
		if err := CryptosignVerify(pub, challenge, channel, v.signature); err != nil {
			t.Errorf("vector %d: %v", i, err)
		}
		if err := CryptosignVerify(pub, challenge, channel, v.signature[:128]); err != nil {
			t.Errorf("vector %d, signature only: %v", i, err)
		}
		other := bytes.Repeat([]byte{7}, 32)
		if err := CryptosignVerify(pub, other, channel, v.signature); err == nil {
			t.Errorf("vector %d: accepted for another challenge", i)
		}
		if err := CryptosignVerify(pub, challenge, other, v.signature); err == nil {
			t.Errorf("vector %d: accepted for another channel", i)
		}
	}
	if _, err := ParsePublicKey("abcd"); err == nil {
		t.Error("short public key accepted")
	}
	if _, err := ParsePrivateKey(strings.Repeat("zz", 32)); err == nil {
		t.Error("non-hex private key accepted")
	}
}

func TestSecretHash(t *testing.T) {
	for _, p := range []HashParams{
		{Algorithm: HashArgon2id, Iterations: 1, Memory: 64},
		{Algorithm: HashPBKDF2, Iterations: 1000},
	} {
		h, err := HashSecret("s3cret", p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$"+p.Algorithm+"$") {
			t.Errorf("hash %s", h)
		}
		if err := CheckSecretHash(h); err != nil {
			t.Error(err)
		}
		if ok, err := VerifySecret(h, "s3cret"); !ok || err != nil {
			t.Errorf("%s: right secret refused: %v", h, err)
		}
		if ok, _ := VerifySecret(h, "s3cret "); ok {
			t.Errorf("%s: wrong secret accepted", h)
		}
		h2, _ := HashSecret("s3cret", p)
		if h2 == h {
			t.Error("two hashes of one secret are equal: salt not random")
		}
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$", "$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA",
		"$pbkdf2-sha256$i=10$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", "$md5$x$y$z"} {
		if err := CheckSecretHash(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
