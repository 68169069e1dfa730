package aws_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// r53 is a Route53 client on moto, as someone working outside ferry has.
func r53(env *awstest.Env) *route53.Client {
	return route53.NewFromConfig(env.Config("us-east-1"))
}

// testZone makes a public hosted zone outside ferry and returns its ID.
func testZone(t testing.TB, env *awstest.Env, name string) string {
	t.Helper()
	out, err := r53(env).CreateHostedZone(t.Context(), &route53.CreateHostedZoneInput{Name: awssdk.String(name), CallerReference: awssdk.String("test-" + name + "-" + t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	return awssdk.ToString(out.HostedZone.Id)[len("/hostedzone/"):]
}

// TestRoute53ZoneDrift: a comment and tags changed outside ferry show in
// a read, and the update puts back the configured ones.
func TestRoute53ZoneDrift(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.Route53ZoneType), "example", map[string]any{"zone_name": "example.com", "tags": map[string]any{"a": "1"}})
	st := o.create("tok-zone-drift")
	if ns := st["name_servers"].([]any); len(ns) == 0 {
		t.Errorf("a public zone without name servers: %v", st)
	}
	o.steady("after create")
	id := st["id"].(string)
	c := r53(env)
	if _, err := c.UpdateHostedZoneComment(t.Context(), &route53.UpdateHostedZoneCommentInput{Id: awssdk.String(id), Comment: awssdk.String("mine now")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ChangeTagsForResource(t.Context(), &route53.ChangeTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: awssdk.String(id),
		AddTags: []types.Tag{{Key: awssdk.String("added"), Value: awssdk.String("outside")}}, RemoveTagKeys: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	drifted := o.refresh()
	if drifted["comment"] != "mine now" || !cmp.Equal(drifted["tags"], map[string]any{"added": "outside"}) {
		t.Fatalf("read after the changes outside ferry: comment %v, tags %v", drifted["comment"], drifted["tags"])
	}
	o.update()
	o.steady("after the update")
	got, err := c.GetHostedZone(t.Context(), &route53.GetHostedZoneInput{Id: awssdk.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(t.Context(), &route53.ListTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: awssdk.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if comment := awssdk.ToString(got.HostedZone.Config.Comment); comment != "Managed by ferry" || len(tags.ResourceTagSet.Tags) != 1 || awssdk.ToString(tags.ResourceTagSet.Tags[0].Key) != "a" {
		t.Errorf("in Route53 after the update: comment %q, tags %v", comment, tags.ResourceTagSet.Tags)
	}

	if _, err := c.DeleteHostedZone(t.Context(), &route53.DeleteHostedZoneInput{Id: awssdk.String(id)}); err != nil {
		t.Fatal(err)
	}
	if got := o.refresh(); got != nil {
		t.Errorf("read of a zone deleted outside ferry: %v", got)
	}
}

// TestRoute53ZoneNames: "Example.COM." and "example.com" are one zone:
// the state keeps the name as written, an import shows it without the
// trailing dot, and a plan over either replaces nothing.
func TestRoute53ZoneNames(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.Route53ZoneType)
	o := newObject(t, r, "example", map[string]any{"zone_name": "Example.COM."})
	st := o.create("tok-zone-names")
	if st["zone_name"] != "Example.COM." {
		t.Errorf("zone_name in state %v, want it as written", st["zone_name"])
	}
	o.steady("after create")
	o.config["zone_name"] = "example.com"
	if p := o.plan(); len(p.RequiresReplace) > 0 {
		t.Errorf("the name without the dot replaces %v", p.RequiresReplace)
	}
	imp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: "/hostedzone/" + st["id"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	if imp.State["zone_name"] != "example.com" || imp.State["id"] != st["id"] {
		t.Errorf("imported %v", imp.State)
	}
	o.state = imp.State
	o.config["zone_name"] = "EXAMPLE.com."
	if p := o.plan(); len(p.RequiresReplace) > 0 {
		t.Errorf("plan over the import replaces %v", p.RequiresReplace)
	}
	_, err = r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: "Z0000000000NOPE"})
	if err == nil || !strings.Contains(err.Error(), `"Z0000000000NOPE"`) || !strings.Contains(err.Error(), o.addr) {
		t.Errorf("import of a missing zone: %v", err)
	}
}

// TestRoute53ZoneForceDestroy: a zone with records is not deleted, and
// the error says so and how; with force_destroy, its records go with it.
func TestRoute53ZoneForceDestroy(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	o := newObject(t, resource(t, c, aws.Route53ZoneType), "example", map[string]any{"zone_name": "example.com"})
	st := o.create("tok-zone-force")
	id := st["id"].(string)
	// Records ferry made and records made outside it, in the apex too,
	// and a delegation (an NS record that is not the zone's own).
	rec := resource(t, c, aws.Route53RecordType)
	for i, args := range []map[string]any{
		{"record_name": "www.example.com", "type": "A", "records": []any{"192.0.2.1"}},
		{"record_name": "example.com", "type": "TXT", "records": []any{`"v=spf1 -all"`}},
		{"record_name": "sub.example.com", "type": "NS", "records": []any{"ns1.elsewhere.example"}},
	} {
		args["zone_id"] = id
		newObject(t, rec, fmt.Sprintf("r%d", i), args).create("")
	}
	upsert(t, env, id, "mail.example.com", types.RRTypeMx, 3600, "10 mx.example.com")

	_, err := o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Delete, Prior: o.state})
	for _, want := range []string{"delete aws.route53_zone.example", "route53:DeleteHostedZone", "HostedZoneNotEmpty", "example.com (" + id + ") still has records", "force_destroy = True"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("delete of a zone with records: error %v does not say %q", err, want)
		}
	}
	if o.refresh() == nil {
		t.Fatal("the zone is gone after a refused delete")
	}

	o.config["force_destroy"] = true
	forced := o.update()
	o.delete()
	if got := o.refresh(); got != nil {
		t.Errorf("after a forced delete: %v", got)
	}
	o.state = forced
	o.delete() // gone already: a crashed apply deletes again
}

// TestRoute53ZoneAdopt: of two zones of one name, Adopt finds the one
// the create's token made.
func TestRoute53ZoneAdopt(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.Route53ZoneType)
	first := newObject(t, r, "a", map[string]any{"zone_name": "twice.example"}).create("tok-first")
	second := newObject(t, r, "b", map[string]any{"zone_name": "twice.example", "comment": "second"}).create("tok-second")
	o := newObject(t, r, "b", map[string]any{"zone_name": "twice.example", "comment": "second"})
	for tok, want := range map[string]map[string]any{"tok-first": first, "tok-second": second, "tok-none": nil} {
		p := o.plan()
		got, err := r.(providers.Adopter).Adopt(t.Context(), providers.AdoptRequest{Addr: o.addr, Token: tok, Planned: p.Planned})
		if err != nil {
			t.Fatal(err)
		}
		if tok == "tok-first" && got.State != nil {
			got.State["comment"] = first["comment"] // planned with another comment: compare the zone
		}
		if diff := cmp.Diff(want, got.State); diff != "" {
			t.Errorf("Adopt(%s) (-want +got):\n%s", tok, diff)
		}
	}
}

// TestRoute53ZonePrivate: a private zone of a VPC, its region the
// provider's by default; an import reads the VPC back.
func TestRoute53ZonePrivate(t *testing.T) {
	env := awstest.New(t)
	vpc := env.VPC(t, env.Region)
	r := resource(t, configure(t, env, nil), aws.Route53ZoneType)
	o := newObject(t, r, "internal", map[string]any{"zone_name": "internal.example", "private": true, "vpc_id": vpc})
	st := o.create("tok-private")
	if st["vpc_region"] != env.Region || !cmp.Equal(st["name_servers"], []any{}) || st["private"] != true {
		t.Errorf("private zone state %v", st)
	}
	o.steady("after create")
	imp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: st["id"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, imp.State); diff != "" {
		t.Errorf("import of the private zone (-created +imported):\n%s", diff)
	}
	o.delete()
}

func TestRoute53ZonePlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.Route53ZoneType)
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"zone_name": "example.com", "private": true}, "a private zone needs vpc_id"},
		{map[string]any{"zone_name": "example.com", "vpc_id": "vpc-1"}, "vpc_id and vpc_region are for private zones"},
		{map[string]any{"zone_name": "."}, `want a domain such as "example.com"`},
		{map[string]any{"zone_name": "example.com", "tags": map[string]any{"aws:x": "y"}}, "reserved by AWS"},
		{map[string]any{"zone_name": "example.com", "comment": strings.Repeat("x", 257)}, "at most 256"},
		{map[string]any{}, `missing required argument "zone_name"`},
	}
	for _, tt := range tests {
		o := newObject(t, r, "z", tt.args)
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.route53_zone.z") {
			t.Errorf("plan %v: error %v, want one naming aws.route53_zone.z and saying %q", tt.args, err, tt.want)
		}
	}
}

// upsert sets a record outside ferry.
func upsert(t testing.TB, env *awstest.Env, zone, name string, typ types.RRType, ttl int64, values ...string) {
	t.Helper()
	rs := &types.ResourceRecordSet{Name: awssdk.String(name), Type: typ, TTL: awssdk.Int64(ttl)}
	for _, v := range values {
		rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: awssdk.String(v)})
	}
	_, err := r53(env).ChangeResourceRecordSets(t.Context(), &route53.ChangeResourceRecordSetsInput{HostedZoneId: awssdk.String(zone),
		ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionUpsert, ResourceRecordSet: rs}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRoute53Endpoint: endpoint = {"route53": URL} reaches Route53 there,
// and the call counter counts its requests.
func TestRoute53Endpoint(t *testing.T) {
	env := awstest.New(t)
	id := testZone(t, env, "example.com")
	c := configure(t, env, map[string]any{"region": "eu-central-1", "endpoint": map[string]any{"route53": env.URL}})
	imp, err := c.Resources()[aws.Route53ZoneType].(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: "aws.route53_zone.x", ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if imp.State["zone_name"] != "example.com" {
		t.Errorf("imported %v", imp.State)
	}
	if n := c.Calls().Of("Route 53.GetHostedZone"); n != 1 {
		t.Errorf("Route 53.GetHostedZone counted %d times, want 1: %v", n, c.Calls().Counts())
	}
}

// awsCallerReferences stands between the provider and moto and answers a
// second CreateHostedZone of a caller reference as AWS does, with
// HostedZoneAlreadyExists, which moto never says.
func awsCallerReferences(t *testing.T, env *awstest.Env) string {
	t.Helper()
	target, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	seen := map[string]bool{}
	refPattern := regexp.MustCompile(`<CallerReference>([^<]*)</CallerReference>`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/hostedzone") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if m := refPattern.FindSubmatch(body); m != nil {
				mu.Lock()
				again := seen[string(m[1])]
				seen[string(m[1])] = true
				mu.Unlock()
				if again {
					w.Header().Set("Content-Type", "text/xml")
					w.WriteHeader(http.StatusConflict)
					fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>HostedZoneAlreadyExists</Code><Message>A hosted zone has already been created with the specified caller reference.</Message></Error><RequestId>test</RequestId></ErrorResponse>`)
					return
				}
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRoute53ZoneRetriedCreate: a create retried with the same token (a
// killed run) gets HostedZoneAlreadyExists from AWS and returns the zone
// the first one made; once that zone is deleted, the token cannot make
// another, and the error says to plan again.
func TestRoute53ZoneRetriedCreate(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, map[string]any{"endpoint": map[string]any{"route53": awsCallerReferences(t, env)}})
	o := newObject(t, resource(t, c, aws.Route53ZoneType), "example", map[string]any{"zone_name": "example.com", "tags": map[string]any{"k": "v"}})
	first := o.create("tok-retried")
	again := o.create("tok-retried")
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retried create (-first +retried):\n%s", diff)
	}
	zones, err := r53(env).ListHostedZonesByName(t.Context(), &route53.ListHostedZonesByNameInput{DNSName: awssdk.String("example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if len(zones.HostedZones) != 1 {
		t.Errorf("%d zones example.com after a retried create, want 1", len(zones.HostedZones))
	}
	o.delete()
	p := o.plan()
	_, err = o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Create, Planned: p.Planned, Token: "tok-retried"})
	for _, want := range []string{"create aws.route53_zone.example", "deleted since", "run ferry plan again"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("create with the token of a deleted zone: error %v does not say %q", err, want)
		}
	}
}
