package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// KeyPairType is an EC2 key pair.
const KeyPairType = "aws.key_pair"

func keyPairSchema() spec.Schema {
	return spec.Schema{
		Type: KeyPairType,
		Doc:  "An EC2 key pair: a public key imported into EC2, or a key pair EC2 creates, whose private key is then a sensitive attribute. Machines log in as root with it.",
		Attrs: []spec.Attr{
			{Name: "key_name", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The name in EC2, unique in the region; default ferry-NAME-XXXXXXXX, chosen at create."},
			{Name: "public_key", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: `An OpenSSH public key to import ("ssh-ed25519 AAAA..."; ed25519 or RSA). Left out, EC2 creates the key pair and private_key holds its private key.`},
			{Name: "key_type", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: `"ed25519" (the default) or "rsa", for a key pair EC2 creates; the type of public_key when importing.`},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The key pair ID, key-..."},
			{Name: "fingerprint", Kind: spec.KindString, Computed: true, Doc: "The fingerprint EC2 computed."},
			{Name: "private_key", Kind: spec.KindString, Computed: true, Sensitive: true, Doc: "The private key (OpenSSH or PEM) of a key pair EC2 created. EC2 hands it out once: null for an imported public key, and for a key pair that ferry import or a recovered create found (replace it with --replace to get one)."},
		},
	}
}

// keyPair is aws.key_pair.
type keyPair struct{ c *Client }

var (
	_ providers.BatchReader = (*keyPair)(nil)
	_ providers.Importer    = (*keyPair)(nil)
	_ providers.Adopter     = (*keyPair)(nil)
)

func (k *keyPair) client() *Client     { return k.c }
func (k *keyPair) Schema() spec.Schema { return keyPairSchema() }

// keyTypes maps the OpenSSH key types EC2 imports to EC2's names.
var keyTypes = map[string]string{ssh.KeyAlgoED25519: "ed25519", ssh.KeyAlgoRSA: "rsa"}

// publicKeyType parses an OpenSSH public key and returns its EC2 type.
func publicKeyType(s string) (string, error) {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return "", fmt.Errorf("is not an OpenSSH public key (%v); give one line such as \"ssh-ed25519 AAAA... comment\"", err)
	}
	t, ok := keyTypes[pk.Type()]
	if !ok {
		return "", fmt.Errorf("is a %s key; EC2 imports ssh-ed25519 and ssh-rsa keys", pk.Type())
	}
	return t, nil
}

// normalKey is a public key without its comment, as EC2 may return it.
func normalKey(s string) string {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
}

func samePublicKey(name string, config, prior any) bool {
	if c, ok := config.(string); ok && name == "public_key" {
		p, _ := prior.(string)
		return normalKey(c) == normalKey(p)
	}
	return equal(config, prior)
}

func (k *keyPair) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(keyPairSchema(), req, samePublicKey)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	if _, err := tagArgs(req.Addr, p); err != nil {
		return providers.PlanResponse{}, err
	}
	fresh := req.Prior == nil || len(resp.RequiresReplace) > 0
	keyType, typeSet := req.Config["key_type"].(string)
	if typeSet && keyType != "ed25519" && keyType != "rsa" {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"key_type\" = %q: want \"ed25519\" or \"rsa\"", req.Addr, keyType)
	}
	switch pub := req.Config["public_key"].(type) {
	case string:
		t, err := publicKeyType(pub)
		if err != nil {
			return providers.PlanResponse{}, fmt.Errorf("%s: argument \"public_key\" %v", req.Addr, err)
		}
		if typeSet && keyType != t {
			return providers.PlanResponse{}, fmt.Errorf("%s: argument \"key_type\" = %q, but public_key is an %s key; leave key_type out when importing a key", req.Addr, keyType, t)
		}
		p["key_type"] = t
		if fresh {
			p["private_key"] = nil // an imported key has no private part in EC2
		}
	case nil:
		if fresh && !typeSet {
			p["key_type"] = "ed25519"
		}
	default: // unknown: a key made by another resource; imported all the same
		if fresh {
			p["private_key"] = nil
		}
	}
	return resp, nil
}

func (k *keyPair) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{k.create, k.update, k.delete}.apply(ctx, req)
}

func (k *keyPair) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(keyPairSchema(), "create", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	tags, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("create %w", err)
	}
	name := str(args, "key_name")
	if name == "" {
		name = generatedName(KeyPairType, req.Addr, req.Token)
	}
	specs := tagSpecs(types.ResourceTypeKeyPair, tags, req.Token)
	st := map[string]any{"key_name": name, "tags": args["tags"], "private_key": nil}

	if pub := str(args, "public_key"); pub != "" {
		out, err := k.c.ec2.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String(name), PublicKeyMaterial: []byte(pub), TagSpecifications: specs})
		if errorCode(err) == "InvalidKeyPair.Duplicate" {
			return k.retried(ctx, req, name, args)
		}
		if err != nil {
			return providers.ApplyResponse{}, k.c.fail("create", req.Addr, callErr("ec2:ImportKeyPair", err))
		}
		t, _ := publicKeyType(pub)
		st["id"], st["fingerprint"], st["public_key"], st["key_type"] = aws.ToString(out.KeyPairId), aws.ToString(out.KeyFingerprint), pub, t
		return providers.ApplyResponse{State: st}, nil
	}

	keyType := str(args, "key_type")
	if keyType == "" {
		keyType = "ed25519"
	}
	out, err := k.c.ec2.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{
		KeyName:           aws.String(name),
		KeyType:           types.KeyType(keyType),
		KeyFormat:         types.KeyFormatPem,
		TagSpecifications: specs,
	})
	if errorCode(err) == "InvalidKeyPair.Duplicate" {
		return k.retried(ctx, req, name, args)
	}
	if err != nil {
		return providers.ApplyResponse{}, k.c.fail("create", req.Addr, callErr("ec2:CreateKeyPair", err))
	}
	id, material := aws.ToString(out.KeyPairId), aws.ToString(out.KeyMaterial)
	st["id"], st["fingerprint"], st["key_type"], st["private_key"] = id, aws.ToString(out.KeyFingerprint), keyType, material
	if signer, perr := ssh.ParsePrivateKey([]byte(material)); perr == nil {
		st["public_key"] = normalKey(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
		return providers.ApplyResponse{State: st}, nil
	}
	// A private key format this ssh package cannot read: ask EC2.
	found, err := k.c.findKeyPairsByIDs(ctx, []string{id})
	kp, ok := found[id]
	if err != nil || !ok || aws.ToString(kp.PublicKey) == "" {
		if err == nil {
			err = fmt.Errorf("EC2 did not return the public key of key pair %s", id)
		}
		st["public_key"] = ""
		return providers.ApplyResponse{State: st}, k.c.fail("create", req.Addr, err)
	}
	st["public_key"] = normalKey(aws.ToString(kp.PublicKey))
	return providers.ApplyResponse{State: st}, nil
}

// retried handles a create whose name is taken: when this create's token
// made the key pair (a retried create, after a run was killed), it is
// the result; otherwise someone else's key pair has the name.
func (k *keyPair) retried(ctx context.Context, req providers.ApplyRequest, name string, args map[string]any) (providers.ApplyResponse, error) {
	kp, err := k.c.findKeyPairByName(ctx, name)
	if err != nil {
		return providers.ApplyResponse{}, k.c.fail("create", req.Addr, err)
	}
	if kp == nil || req.Token == "" || tagValue(kp.Tags, tokenTag) != req.Token {
		return providers.ApplyResponse{}, fmt.Errorf("create %s: a key pair named %q exists already in %s and this deployment did not make it: import it with ferry import %s %s, or choose another key_name", req.Addr, name, k.c.region, req.Addr, name)
	}
	return providers.ApplyResponse{State: keyPairState(*kp, args)}, nil
}

// keyPairState is the state of a key pair as EC2 describes it. prior (nil
// when there is none) keeps what EC2 does not return: the private key,
// and the public key as the configuration wrote it (with its comment).
func keyPairState(kp types.KeyPairInfo, prior map[string]any) map[string]any {
	pub := strings.TrimSpace(aws.ToString(kp.PublicKey))
	if p := str(prior, "public_key"); p != "" && (pub == "" || normalKey(p) == normalKey(pub)) {
		pub = p
	}
	var private any
	if p := str(prior, "private_key"); p != "" {
		private = p
	}
	var pubV any
	if pub != "" {
		pubV = pub
	}
	return map[string]any{
		"id":          aws.ToString(kp.KeyPairId),
		"key_name":    aws.ToString(kp.KeyName),
		"key_type":    string(kp.KeyType),
		"public_key":  pubV,
		"fingerprint": aws.ToString(kp.KeyFingerprint),
		"private_key": private,
		"tags":        userTags(kp.Tags),
	}
}

func (k *keyPair) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(keyPairSchema(), "update", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	want, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %w", err)
	}
	had, _ := stringMap(req.Addr, "tags", req.Prior["tags"])
	if err := k.c.updateTags(ctx, id, had, want); err != nil {
		if isNotFound(err) {
			return providers.ApplyResponse{}, fmt.Errorf("update %s: key pair %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", req.Addr, id)
		}
		return providers.ApplyResponse{}, k.c.fail("update", req.Addr, err)
	}
	st := spec.CloneMap(req.Prior)
	for name, v := range args {
		st[name] = v
	}
	return providers.ApplyResponse{State: st}, nil
}

func (k *keyPair) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	// By name, as the AWS CLI and Terraform do: moto ignores KeyPairId
	// here. EC2 answers success for a key pair that is gone already, as a
	// crashed apply that deletes again needs.
	in := &ec2.DeleteKeyPairInput{KeyName: aws.String(str(req.Prior, "key_name"))}
	if *in.KeyName == "" {
		in = &ec2.DeleteKeyPairInput{KeyPairId: aws.String(id)}
	}
	_, err = k.c.ec2.DeleteKeyPair(ctx, in)
	if err != nil && !isNotFound(err) {
		return k.c.fail("delete", req.Addr, callErr("ec2:DeleteKeyPair", err))
	}
	return nil
}

func (k *keyPair) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, k, req)
}

// ReadMany reads the key pairs with one DescribeKeyPairs per page of
// IDs.
func (k *keyPair) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ids, err := idsOf(reqs)
	if err != nil {
		return nil, err
	}
	found, err := k.c.findKeyPairsByIDs(ctx, ids)
	if err != nil {
		return nil, k.c.fail("read", batchName(reqs), err)
	}
	out := make([]providers.ReadResponse, len(reqs))
	for i, req := range reqs {
		if kp, ok := found[ids[i]]; ok {
			out[i].State = keyPairState(kp, req.Prior)
		}
	}
	return out, nil
}

// Import adopts a key pair by its ID (key-...) or its name.
func (k *keyPair) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if req.ID == "" {
		return providers.ImportResponse{}, fmt.Errorf("import %s: the ID is empty; give a key pair's ID (key-...) or name", req.Addr)
	}
	var kp *types.KeyPairInfo
	var err error
	if strings.HasPrefix(req.ID, "key-") {
		var found map[string]types.KeyPairInfo
		found, err = k.c.findKeyPairsByIDs(ctx, []string{req.ID})
		if f, ok := found[req.ID]; ok {
			kp = &f
		}
	}
	if kp == nil && err == nil {
		kp, err = k.c.findKeyPairByName(ctx, req.ID)
	}
	if err != nil {
		return providers.ImportResponse{}, k.c.fail("import", req.Addr, err)
	}
	if kp == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no key pair with ID or name %q in %s (region %s); list them with aws ec2 describe-key-pairs --region %s", req.Addr, req.ID, k.c.name, k.c.region, k.c.region)
	}
	return providers.ImportResponse{State: keyPairState(*kp, nil)}, nil
}

// Adopt finds the key pair a create with req.Token made, by its token
// tag: EC2's key pairs take no client token.
func (k *keyPair) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	kp, err := k.c.findKeyPairByToken(ctx, req.Token)
	if err != nil {
		return providers.ReadResponse{}, k.c.fail("adopt", req.Addr, err)
	}
	if kp == nil {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: keyPairState(*kp, req.Planned)}, nil
}
