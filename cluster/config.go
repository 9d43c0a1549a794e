package cluster

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"
)

// Config is a node's cluster section: who it is and how it reaches NATS. Exactly one of NATS
// (an existing NATS cluster) and Embedded (a nats-server in this process) is set.
type Config struct {
	// Name is the cluster's name: the NATS cluster name of embedded servers and the first
	// token of every subject and bucket Pawl uses, so that several Pawl clusters can share one
	// NATS. Letters, digits, '-' and '_'; default "pawl".
	Name string `yaml:"name"`
	// Node names this node, unique in the cluster; default the host name. Letters, digits,
	// '-' and '_'.
	Node string `yaml:"node"`
	// Heartbeat is how often the node announces that it is alive (default 1s).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// NodeTimeout is how long a node may be silent before the others call it down and drop
	// its sessions and subscriptions (default 5s). It is also how long a node that lost NATS
	// keeps its own sessions before closing them. At least twice Heartbeat.
	NodeTimeout time.Duration `yaml:"node_timeout"`
	// Replicas is the number of copies JetStream keeps of Pawl's buckets (1 to 5). Default:
	// 3 with an embedded server that has at least two routes, else 1.
	Replicas int `yaml:"replicas"`

	NATS     *NATSConfig     `yaml:"nats"`
	Embedded *EmbeddedConfig `yaml:"embedded"`
}

// NATSConfig reaches an existing NATS cluster (with JetStream enabled).
type NATSConfig struct {
	URLs []string `yaml:"urls"`
	// Credentials: at most one way.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// PasswordEnv names an environment variable holding the password (instead of Password).
	PasswordEnv string `yaml:"password_env"`
	Token       string `yaml:"token"`
	// TokenEnv names an environment variable holding the token.
	TokenEnv string `yaml:"token_env"`
	// Creds is a NATS credentials file (JWT and NKey seed).
	Creds string `yaml:"creds"`
	// NKeySeed is a file holding an NKey seed.
	NKeySeed string     `yaml:"nkey_seed"`
	TLS      *TLSConfig `yaml:"tls"`
}

// TLSConfig are PEM files: the CA that signed the NATS servers' certificates, and a client
// certificate and key when the servers ask for one.
type TLSConfig struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// EmbeddedConfig runs a nats-server with JetStream inside this node, routed to its peers'.
type EmbeddedConfig struct {
	// Listen is where the embedded server accepts NATS clients (host:port). Empty: a random
	// loopback port; the node's own connection is in process either way.
	Listen string `yaml:"listen"`
	// ClusterListen is where it accepts its peers' routes (host:port), required.
	ClusterListen string `yaml:"cluster_listen"`
	// Routes are the peers' cluster addresses (nats-route://host:port, or host:port). Listing
	// this node's own address too is fine: the same list may go to every node.
	Routes []string `yaml:"routes"`
	// StoreDir holds JetStream's files; default <data_dir>/nats/<node>.
	StoreDir string `yaml:"store_dir"`
}

var token = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// withDefaults fills the zero values and checks the whole section.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "pawl"
	}
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("cluster.node: not set and no host name: %w", err)
		}
		c.Node = regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(h, "_")
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = time.Second
	}
	if c.NodeTimeout == 0 {
		c.NodeTimeout = 5 * time.Second
	}
	if c.Replicas == 0 {
		c.Replicas = 1
		if c.Embedded != nil && len(c.Embedded.Routes) >= 2 {
			c.Replicas = 3
		}
	}
	return c, c.Validate()
}

// Validate reports the first thing wrong with the section.
func (c Config) Validate() error {
	switch {
	case c.Name != "" && !token.MatchString(c.Name):
		return fmt.Errorf("cluster.name %q: only letters, digits, '-' and '_'", c.Name)
	case c.Node != "" && !token.MatchString(c.Node):
		return fmt.Errorf("cluster.node %q: only letters, digits, '-' and '_'", c.Node)
	case c.Heartbeat < 0 || c.NodeTimeout < 0:
		return errors.New("cluster.heartbeat and cluster.node_timeout must be positive")
	case c.Heartbeat > 0 && c.NodeTimeout > 0 && c.NodeTimeout < 2*c.Heartbeat:
		return fmt.Errorf("cluster.node_timeout (%v) must be at least twice cluster.heartbeat (%v)", c.NodeTimeout, c.Heartbeat)
	case c.Replicas < 0 || c.Replicas > 5:
		return fmt.Errorf("cluster.replicas %d: 1 to 5", c.Replicas)
	case (c.NATS == nil) == (c.Embedded == nil):
		return errors.New("cluster: set exactly one of nats (an existing NATS cluster) and embedded (a nats-server in each node)")
	}
	if n := c.NATS; n != nil {
		if len(n.URLs) == 0 {
			return errors.New("cluster.nats.urls: at least one URL")
		}
		ways := 0
		for _, set := range []bool{n.User != "", n.Token != "" || n.TokenEnv != "", n.Creds != "", n.NKeySeed != ""} {
			if set {
				ways++
			}
		}
		if ways > 1 {
			return errors.New("cluster.nats: give one of user/password, token, creds and nkey_seed")
		}
		if n.TLS != nil && (n.TLS.Cert == "") != (n.TLS.Key == "") {
			return errors.New("cluster.nats.tls: cert and key go together")
		}
	}
	if e := c.Embedded; e != nil && e.ClusterListen == "" {
		return errors.New("cluster.embedded.cluster_listen: the address peers route to (host:port) is required")
	}
	return nil
}
