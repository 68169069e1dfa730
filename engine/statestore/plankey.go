package statestore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/statestore/sealed"
)

// PlanKeySize is the length of a plan key in bytes.
const PlanKeySize = 32

// planKeyFormat is the format_version of the plan key object.
const planKeyFormat = 1

// planKeyObject is the plan key as stored. It has no String method on
// purpose: nothing should format it.
type planKeyObject struct {
	FormatVersion int       `json:"format_version"`
	Key           string    `json:"key"` // standard base64
	Created       time.Time `json:"created"`
}

// PlanKey returns the deployment's plan key: a secret of PlanKeySize
// random bytes that signs plan files (HMAC) and keys the digests of
// secrets recorded in state and plans. It is created at the first call,
// create-if-absent like a snapshot, so that two runs racing to create it
// end up with the same key; later calls read it. It needs the
// deployment's lock, because a new key invalidates every outstanding
// plan. Never print or log the key.
//
// With a sealing key (WithSecrets) the plan key is stored sealed; a plan
// key stored otherwise (in clear, from before encryption was turned on,
// or sealed with a key being rotated out) is stored again as this run
// writes, under the lock: the key itself does not change.
func (s *Store) PlanKey(ctx context.Context, l *Lock, deployment string) ([]byte, error) {
	return s.StorePlanKey(ctx, l, deployment, nil)
}

// NewPlanKey returns PlanKeySize random bytes: a plan key that is not
// stored yet (see StorePlanKey).
func NewPlanKey() ([]byte, error) {
	key := make([]byte, PlanKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, nil
}

// StorePlanKey is PlanKey with the key to create when the deployment has
// none: candidate (from NewPlanKey; nil: a new random one). A run can so
// key the digests of a plan before it knows whether the plan will be
// made, and store the key only once it is: it builds with the stored key
// (ReadPlanKey) or a candidate, then calls StorePlanKey, which returns
// the key that is stored. That is the candidate unless another run
// stored one in between (possible only when a lock was broken): the
// caller must then refuse what it built with the candidate.
func (s *Store) StorePlanKey(ctx context.Context, l *Lock, deployment string, candidate []byte) ([]byte, error) {
	dep, err := l.owned(s)
	if err != nil {
		return nil, err
	}
	if deployment != dep {
		return nil, fmt.Errorf("plan key of deployment %q asked for under the lock of deployment %q; take %q's lock", deployment, dep, deployment)
	}
	if candidate != nil && len(candidate) != PlanKeySize {
		return nil, fmt.Errorf("plan key of deployment %q: a candidate of %d bytes, want %d", dep, len(candidate), PlanKeySize)
	}
	obj, stored, err := s.readPlanKey(ctx, dep)
	switch {
	case err != nil:
		return nil, err
	case obj != nil:
		if err := s.restorePlanKey(ctx, dep, obj, stored); err != nil {
			return nil, err
		}
		return obj.key, nil
	}
	key := candidate
	if key == nil {
		if key, err = NewPlanKey(); err != nil {
			return nil, err
		}
	}
	data, err := s.encodePlanKey(ctx, dep, &planKey{key: key, created: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return nil, err
	}
	k := PlanKeyKey(dep)
	switch err := s.create(ctx, k, data, true); {
	case err == nil:
		return key, nil
	case errors.Is(err, errExists):
		// Another run created it since it was read: use that one.
		key, ok, err := s.ReadPlanKey(ctx, dep)
		if err == nil && !ok {
			err = fmt.Errorf("plan key %s was created and removed while this run read it; try again", s.b.objectURL(k))
		}
		return key, err
	default:
		return nil, fmt.Errorf("create plan key %s: %w", s.b.objectURL(k), err)
	}
}

// planKey is a decoded plan key object.
type planKey struct {
	key     []byte
	created time.Time
}

func (s *Store) encodePlanKey(ctx context.Context, dep string, pk *planKey) ([]byte, error) {
	data, err := json.MarshalIndent(planKeyObject{
		FormatVersion: planKeyFormat,
		Key:           base64.StdEncoding.EncodeToString(pk.key),
		Created:       pk.created,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	data, err = s.seal(ctx, kindPlanKey, map[string]string{"deployment": dep}, append(data, '\n'))
	if err != nil {
		return nil, fmt.Errorf("plan key of deployment %q in %s: %w", dep, s.url, err)
	}
	return data, nil
}

// restorePlanKey stores the plan key again when it is stored otherwise
// than this run writes: in clear while this run seals, sealed with
// another key, or sealed while this run writes in clear.
func (s *Store) restorePlanKey(ctx context.Context, dep string, pk *planKey, stored *sealed.Header) error {
	sealer := s.keys.Sealer()
	switch {
	case sealer == nil && stored == nil:
		return nil
	case sealer != nil && stored != nil && stored.Keeper == sealer.Scheme() && stored.KeyID == sealer.KeyID():
		return nil
	}
	data, err := s.encodePlanKey(ctx, dep, pk)
	if err != nil {
		return err
	}
	if err := s.put(ctx, PlanKeyKey(dep), data); err != nil {
		return fmt.Errorf("store plan key %s again with this run's key: %w", s.b.objectURL(PlanKeyKey(dep)), err)
	}
	return nil
}

// ReadPlanKey returns the deployment's plan key, false when it has none
// yet. It needs no lock: checking a plan's signature only reads the key.
// An unreadable key is an error naming the object; its text never holds
// any of the object's content. A sealed key this run cannot open is an
// error naming the key it needs (never "unreadable": deleting it would
// lose nothing that cannot be made again, but also invalidate every plan
// for no reason).
func (s *Store) ReadPlanKey(ctx context.Context, deployment string) ([]byte, bool, error) {
	if err := checkDeployment(deployment); err != nil {
		return nil, false, err
	}
	obj, _, err := s.readPlanKey(ctx, deployment)
	if err != nil || obj == nil {
		return nil, false, err
	}
	return obj.key, true, nil
}

// readPlanKey reads the plan key object: nil when there is none, with the
// header it was sealed under (nil when clear).
func (s *Store) readPlanKey(ctx context.Context, deployment string) (*planKey, *sealed.Header, error) {
	k := PlanKeyKey(deployment)
	data, err := s.b.get(ctx, k)
	if errors.Is(err, errNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read plan key %s: %w", s.b.objectURL(k), err)
	}
	data, sh, err := s.open(ctx, fmt.Sprintf("plan key of deployment %q in %s", deployment, s.url), kindPlanKey, data)
	if err == nil && sh != nil && sh.Attrs["deployment"] != deployment {
		err = &sealed.Error{Reason: sealed.Damaged, Err: fmt.Errorf("it is deployment %q's", sh.Attrs["deployment"])}
	}
	switch {
	case damaged(err):
		return nil, nil, s.badPlanKey(deployment, damage(err))
	case err != nil:
		return nil, nil, err
	}
	var obj planKeyObject
	// Decoding errors may quote the content: only say what is wrong.
	if json.Unmarshal(data, &obj) != nil {
		return nil, nil, s.badPlanKey(deployment, "it is not a JSON object with format_version, key and created")
	}
	switch {
	case obj.FormatVersion > planKeyFormat:
		return nil, nil, fmt.Errorf("plan key %s has format version %d, newer than this ferry understands (%d); upgrade ferry", s.b.objectURL(k), obj.FormatVersion, planKeyFormat)
	case obj.FormatVersion < 1:
		return nil, nil, s.badPlanKey(deployment, "its format_version is missing")
	}
	key, err := base64.StdEncoding.DecodeString(obj.Key)
	if err != nil || len(key) != PlanKeySize {
		return nil, nil, s.badPlanKey(deployment, fmt.Sprintf("its key is not %d bytes in base64", PlanKeySize))
	}
	return &planKey{key: key, created: obj.Created}, sh, nil
}

func (s *Store) badPlanKey(deployment, why string) error {
	return &corruptError{fmt.Sprintf("plan key %s is unreadable (%s); delete it and run ferry again: a new key is created, and plans made for deployment %q before then must be made again with `ferry plan`", s.b.objectURL(PlanKeyKey(deployment)), why, deployment)}
}
