package aws_test

import (
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// mainRoute returns the main route table of vpc and where its default
// route goes ("" when it has none).
func mainRoute(t *testing.T, env *awstest.Env, vpc string) (table, via string) {
	t.Helper()
	out, err := env.EC2(env.Region).DescribeRouteTables(t.Context(), &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
		{Name: awssdk.String("vpc-id"), Values: []string{vpc}},
		{Name: awssdk.String("association.main"), Values: []string{"true"}},
	}})
	if err != nil || len(out.RouteTables) != 1 {
		t.Fatalf("main route table of %s: %v, %v", vpc, out, err)
	}
	rt := out.RouteTables[0]
	for _, r := range rt.Routes {
		if awssdk.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" {
			via = awssdk.ToString(r.GatewayId)
		}
	}
	return awssdk.ToString(rt.RouteTableId), via
}

// TestInternetGatewayRoute: route_default puts the default route in the
// main route table of the gateway's VPC, moves it with the gateway, takes
// it away when turned off or on delete, and a route removed outside
// ferry shows in a read and comes back with the update.
func TestInternetGatewayRoute(t *testing.T) {
	env := awstest.New(t)
	vpcA, vpcB := newVPC(t, env, "10.1.0.0/16"), newVPC(t, env, "10.2.0.0/16")
	o := newObject(t, resource(t, configure(t, env, nil), aws.InternetGatewayType), "gw", map[string]any{"vpc_id": vpcA, "route_default": true})
	id := o.create("tok-gw")["id"].(string)
	o.steady("after create")
	if _, via := mainRoute(t, env, vpcA); via != id {
		t.Errorf("default route of %s goes to %q after create, want %s", vpcA, via, id)
	}

	o.config["vpc_id"] = vpcB
	o.update()
	o.steady("after the move")
	if _, via := mainRoute(t, env, vpcA); via != "" {
		t.Errorf("default route of the old VPC still goes to %q", via)
	}
	table, via := mainRoute(t, env, vpcB)
	if via != id {
		t.Errorf("default route of the new VPC goes to %q, want %s", via, id)
	}

	// Removed outside ferry: the read shows it, the update puts it back.
	if _, err := env.EC2(env.Region).DeleteRoute(t.Context(), &ec2.DeleteRouteInput{RouteTableId: awssdk.String(table), DestinationCidrBlock: awssdk.String("0.0.0.0/0")}); err != nil {
		t.Fatal(err)
	}
	if got := o.refresh()["route_default"]; got != false {
		t.Errorf("route_default after the route was removed outside ferry: %v", got)
	}
	o.update()
	if _, via := mainRoute(t, env, vpcB); via != id {
		t.Errorf("default route after the update goes to %q, want %s", via, id)
	}

	o.config["route_default"] = false
	o.update()
	o.steady("after route_default = False")
	if _, via := mainRoute(t, env, vpcB); via != "" {
		t.Errorf("default route after route_default = False goes to %q", via)
	}

	// Detached outside ferry: the read shows it.
	if _, err := env.EC2(env.Region).DetachInternetGateway(t.Context(), &ec2.DetachInternetGatewayInput{InternetGatewayId: awssdk.String(id), VpcId: awssdk.String(vpcB)}); err != nil {
		t.Fatal(err)
	}
	if got := o.refresh()["vpc_id"]; got != nil {
		t.Errorf("vpc_id after a detach outside ferry: %v", got)
	}
	o.config["route_default"] = true
	o.update()
	o.delete()
	if _, via := mainRoute(t, env, vpcB); via != "" {
		t.Errorf("default route after delete goes to %q", via)
	}
	if got := o.refresh(); got != nil {
		t.Errorf("gateway after delete: %v", got)
	}
}

// TestInternetGatewayRouteTaken: a default route that goes elsewhere is
// not replaced: the create fails, says what to do, and returns the
// gateway it made.
func TestInternetGatewayRouteTaken(t *testing.T) {
	env := awstest.New(t)
	vpc := newVPC(t, env, "10.1.0.0/16")
	r := resource(t, configure(t, env, nil), aws.InternetGatewayType)
	// A gateway detached outside ferry leaves its route behind (a
	// blackhole, in AWS). moto would also attach two gateways to one VPC;
	// AWS does not.
	other := newObject(t, r, "other", map[string]any{"vpc_id": vpc, "route_default": true})
	otherID := other.create("tok-other")["id"].(string)
	if _, err := env.EC2(env.Region).DetachInternetGateway(t.Context(), &ec2.DetachInternetGatewayInput{InternetGatewayId: awssdk.String(otherID), VpcId: awssdk.String(vpc)}); err != nil {
		t.Fatal(err)
	}
	other.refresh()

	o := newObject(t, r, "gw", map[string]any{"vpc_id": vpc, "route_default": true})
	resp, err := o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Create, Planned: o.plan().Planned, Token: "tok-gw"})
	if err == nil || !strings.Contains(err.Error(), "create aws.internet_gateway.gw") || !strings.Contains(err.Error(), "to "+otherID+" already") || !strings.Contains(err.Error(), "route_default = False") {
		t.Errorf("create into a VPC routed elsewhere: %v", err)
	}
	if resp.State == nil || resp.State["vpc_id"] != vpc {
		t.Fatalf("partial state: %v", resp.State)
	}
	o.state = resp.State
	o.delete()
	if _, via := mainRoute(t, env, vpc); via != otherID {
		t.Errorf("the other gateway's route goes to %q after the failed create's delete", via)
	}
	other.delete()
}
