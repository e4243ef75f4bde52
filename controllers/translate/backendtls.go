package translate

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

// KindBackendTLSPolicy is the kind name used in ObjectRefs and statuses.
const KindBackendTLSPolicy = "BackendTLSPolicy"

// caKey is the ConfigMap key holding a CA bundle, as the spec requires.
const caKey = "ca.crt"

// backendPolicy is one BackendTLSPolicy after validation.
type backendPolicy struct {
	p        *gatewayv1.BackendTLSPolicy
	tls      *router.UpstreamTLS // nil when the policy cannot be used
	accepted metav1.Condition
	resolved metav1.Condition
}

// policyTarget is what a policy targets: a Service, or one of its ports
// by name.
type policyTarget struct {
	svc     nsName
	section string
}

// backendPolicies validates every BackendTLSPolicy, oldest first (the
// order in which they win their targets, see indexPolicies).
func backendPolicies(s *Snapshot) []*backendPolicy {
	cms := map[nsName]*corev1.ConfigMap{}
	for i := range s.ConfigMaps {
		cm := &s.ConfigMaps[i]
		cms[nsName{cm.Namespace, cm.Name}] = cm
	}
	all := make([]*backendPolicy, 0, len(s.BackendTLSPolicies))
	for i := range s.BackendTLSPolicies {
		all = append(all, validatePolicy(&s.BackendTLSPolicies[i], cms))
	}
	slices.SortFunc(all, func(a, b *backendPolicy) int {
		return compareAge(a.p.CreationTimestamp, ObjectRef{Namespace: a.p.Namespace, Name: a.p.Name},
			b.p.CreationTimestamp, ObjectRef{Namespace: b.p.Namespace, Name: b.p.Name})
	})
	return all
}

// indexPolicies indexes the validated policies, oldest first, by target:
// the oldest policy (then namespace/name) wins a target, the others are
// Conflicted.
func (r *backendResolver) indexPolicies(all []*backendPolicy) {
	index := map[policyTarget]*backendPolicy{}
	r.targeted = map[nsName]bool{}
	for _, bp := range all {
		for _, ref := range bp.p.Spec.TargetRefs {
			if ref.Group != "" || ref.Kind != "Service" {
				continue
			}
			key := policyTarget{nsName{bp.p.Namespace, string(ref.Name)}, ""}
			if ref.SectionName != nil {
				key.section = string(*ref.SectionName)
			}
			r.targeted[key.svc] = true
			if winner, taken := index[key]; taken {
				bp.accepted = condition(string(gatewayv1.PolicyConditionAccepted), false, string(gatewayv1.PolicyReasonConflicted),
					fmt.Sprintf("BackendTLSPolicy %s/%s, older, already targets this Service port", winner.p.Namespace, winner.p.Name),
					bp.p.Generation)
				continue
			}
			index[key] = bp
		}
	}
	r.policies = index
}

// validatePolicy checks a policy's CA references and options and builds its
// upstream TLS settings.
func validatePolicy(p *gatewayv1.BackendTLSPolicy, cms map[nsName]*corev1.ConfigMap) *backendPolicy {
	gen := p.Generation
	bp := &backendPolicy{p: p,
		accepted: condition(string(gatewayv1.PolicyConditionAccepted), true, string(gatewayv1.PolicyReasonAccepted), "policy accepted", gen),
		resolved: condition(string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), true,
			string(gatewayv1.BackendTLSPolicyReasonResolvedRefs), "all CA certificate references resolved", gen),
	}
	v := p.Spec.Validation
	up := &router.UpstreamTLS{ServerName: string(v.Hostname)}
	for _, s := range v.SubjectAltNames {
		switch s.Type {
		case gatewayv1.HostnameSubjectAltNameType:
			up.SubjectAltNames = append(up.SubjectAltNames, router.SubjectAltName{Hostname: string(s.Hostname)})
		case gatewayv1.URISubjectAltNameType:
			up.SubjectAltNames = append(up.SubjectAltNames, router.SubjectAltName{URI: string(s.URI)})
		}
	}
	invalid := func(msg string) *backendPolicy {
		bp.accepted = condition(string(gatewayv1.PolicyConditionAccepted), false, string(gatewayv1.PolicyReasonInvalid), msg, gen)
		return bp
	}
	switch {
	case len(v.CACertificateRefs) > 0 && v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "":
		return invalid("spec.validation: caCertificateRefs and wellKnownCACertificates are mutually exclusive")
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "":
		if *v.WellKnownCACertificates != gatewayv1.WellKnownCACertificatesSystem {
			return invalid(fmt.Sprintf("spec.validation.wellKnownCACertificates: %q is not supported (System is)", *v.WellKnownCACertificates))
		}
		up.CASource = "system"
		bp.tls = up
		return bp
	case len(v.CACertificateRefs) == 0:
		return invalid("spec.validation: one of caCertificateRefs or wellKnownCACertificates is required")
	}
	var bundle []byte
	var sources, problems []string
	reason := gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef
	for i, ref := range v.CACertificateRefs {
		field := fmt.Sprintf("spec.validation.caCertificateRefs[%d]", i)
		if ref.Group != "" || ref.Kind != "ConfigMap" {
			reason = gatewayv1.BackendTLSPolicyReasonInvalidKind
			problems = append(problems, fmt.Sprintf("%s: kind %s/%s is not supported (ConfigMap is)", field, ref.Group, ref.Kind))
			continue
		}
		cm, ok := cms[nsName{p.Namespace, string(ref.Name)}]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: ConfigMap %s/%s not found", field, p.Namespace, ref.Name))
			continue
		}
		pemData := []byte(cm.Data[caKey])
		if err := checkCABundle(pemData); err != nil {
			problems = append(problems, fmt.Sprintf("%s: ConfigMap %s/%s key %s: %v", field, p.Namespace, ref.Name, caKey, err))
			continue
		}
		bundle = append(append(bundle, pemData...), '\n')
		sources = append(sources, "ConfigMap/"+p.Namespace+"/"+string(ref.Name))
	}
	if len(problems) > 0 {
		bp.resolved = condition(string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), false, string(reason),
			strings.Join(problems, "; "), gen)
	}
	if len(sources) == 0 {
		bp.accepted = condition(string(gatewayv1.PolicyConditionAccepted), false,
			string(gatewayv1.BackendTLSPolicyReasonNoValidCACertificate), "no CA certificate reference is valid: "+strings.Join(problems, "; "), gen)
		return bp
	}
	up.CAPEM, up.CASource = bundle, strings.Join(sources, ",")
	bp.tls = up
	return bp
}

// checkCABundle requires at least one PEM certificate and no unparsable
// one.
func checkCABundle(data []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no PEM certificate")
	}
	return nil
}

// policyFor is the policy that applies to a Service port: one naming the
// port wins over one naming only the Service.
func (r *backendResolver) policyFor(svc nsName, port *corev1.ServicePort) *backendPolicy {
	if port.Name != "" {
		if bp, ok := r.policies[policyTarget{svc, port.Name}]; ok {
			return bp
		}
	}
	return r.policies[policyTarget{svc, ""}]
}

// applyPolicy makes b speak TLS as its policy says, or fail with 502 when
// the policy cannot be used: the spec requires connections through an
// invalid policy to fail.
func applyPolicy(b *router.Backend, bp *backendPolicy) {
	if bp.tls != nil {
		b.TLS = bp.tls
		return
	}
	b.Status = 502
	b.Reason = fmt.Sprintf("BackendTLSPolicy %s/%s cannot be used: %s", bp.p.Namespace, bp.p.Name, bp.accepted.Message)
}
