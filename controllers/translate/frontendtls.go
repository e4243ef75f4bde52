package translate

import (
	"crypto/x509"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	certs "github.com/portico-dev/portico/tls"
)

// FrontendCARefs lists the ConfigMaps ("namespace/name") that Gateways
// name as client CAs in spec.tls.frontend, for the controller to read.
func FrontendCARefs(gws []gatewayv1.Gateway) []string {
	var out []string
	for i := range gws {
		gw := &gws[i]
		for _, v := range frontendValidations(gw) {
			for _, ref := range v.CACertificateRefs {
				if ref.Group == "" && ref.Kind == "ConfigMap" {
					ns := gw.Namespace
					if ref.Namespace != nil {
						ns = string(*ref.Namespace)
					}
					out = append(out, ns+"/"+string(ref.Name))
				}
			}
		}
	}
	return out
}

func frontendValidations(gw *gatewayv1.Gateway) []*gatewayv1.FrontendTLSValidation {
	f := gatewayFrontend(gw)
	if f == nil {
		return nil
	}
	out := []*gatewayv1.FrontendTLSValidation{f.Default.Validation}
	for i := range f.PerPort {
		out = append(out, f.PerPort[i].TLS.Validation)
	}
	return slices.DeleteFunc(out, func(v *gatewayv1.FrontendTLSValidation) bool { return v == nil })
}

func gatewayFrontend(gw *gatewayv1.Gateway) *gatewayv1.FrontendTLSConfig {
	if gw.Spec.TLS == nil {
		return nil
	}
	return gw.Spec.TLS.Frontend
}

// frontendValidation requires client certificates on an HTTPS listener
// whose port has a client validation in the Gateway's spec.tls.frontend
// (perPort first, then default): every certificate of the listener gets the
// CAs, so the handshake asks for a certificate and every request is
// checked against them (router Admit). It never fails open: CAs that cannot
// be used leave the listener requiring certificates no client has, and the
// unsupported AllowInsecureFallback mode is served as AllowValidOnly. It
// returns the listener's ResolvedRefs and Accepted conditions when they are
// not true.
func (t *gatewayProcessor) frontendValidation(gw *gatewayv1.Gateway, l *gatewayv1.Listener, ls *listenerState, gen int64) (resolved, accepted *metav1.Condition) {
	f := gatewayFrontend(gw)
	if f == nil || len(ls.certs) == 0 {
		return nil, nil
	}
	v, field := f.Default.Validation, "spec.tls.frontend.default.validation"
	for i := range f.PerPort {
		if f.PerPort[i].Port == l.Port {
			v, field = f.PerPort[i].TLS.Validation, fmt.Sprintf("spec.tls.frontend.perPort[%d].tls.validation", i)
		}
	}
	if v == nil {
		return nil, nil
	}
	ref := ObjectRef{Kind: kindGateway, Namespace: gw.Namespace, Name: gw.Name}
	if v.Mode == gatewayv1.AllowInsecureFallback {
		t.problem(ref, field+".mode", SeverityWarning, reasonUnsupportedField,
			"AllowInsecureFallback is not supported: client certificates are required and verified (AllowValidOnly)")
	}
	pool := x509.NewCertPool()
	var sources []string
	for i, r := range v.CACertificateRefs {
		rf := fmt.Sprintf("%s.caCertificateRefs[%d]", field, i)
		ns := gw.Namespace
		if r.Namespace != nil {
			ns = string(*r.Namespace)
		}
		var reason gatewayv1.ListenerConditionReason
		var msg string
		switch {
		case r.Group != "" || r.Kind != "ConfigMap":
			reason, msg = "InvalidCACertificateKind", fmt.Sprintf("%s: kind %s/%s is not supported (ConfigMap is)", rf, r.Group, r.Kind)
		case ns != gw.Namespace && !t.grantAllows(gw.Namespace, kindGateway, ns, "", "ConfigMap", string(r.Name)):
			reason, msg = gatewayv1.ListenerReasonRefNotPermitted, fmt.Sprintf("%s: ConfigMap %s/%s is in another namespace and no ReferenceGrant there allows it", rf, ns, r.Name)
		default:
			cm := t.configMap(ns, string(r.Name))
			if cm == nil {
				reason, msg = gatewayv1.ListenerReasonInvalidCACertificateRef, fmt.Sprintf("%s: ConfigMap %s/%s not found", rf, ns, r.Name)
				break
			}
			cas, err := certs.ParseCACertificates([]byte(cm.Data[caKey]))
			if err != nil {
				reason, msg = gatewayv1.ListenerReasonInvalidCACertificateRef, fmt.Sprintf("%s: ConfigMap %s/%s key %s: %v", rf, ns, r.Name, caKey, err)
				break
			}
			for _, c := range cas {
				pool.AddCert(c)
			}
			sources = append(sources, "ConfigMap/"+ns+"/"+string(r.Name))
		}
		if msg != "" && resolved == nil {
			c := condition(string(gatewayv1.ListenerConditionResolvedRefs), false, string(reason), msg, gen)
			resolved = &c
		}
	}
	if len(sources) == 0 {
		c := condition(string(gatewayv1.ListenerConditionAccepted), false, string(gatewayv1.ListenerReasonNoValidCACertificate),
			"no usable client CA certificate in "+field+"; the listener serves nothing until one is fixed", gen)
		accepted = &c
		// Not programmed (fail closed), but routes still attach, as for
		// unresolved certificate references.
		ls.valid, ls.unresolved = false, true
	}
	source := fmt.Sprintf("Gateway/%s/%s %s", gw.Namespace, gw.Name, field)
	for i := range ls.certs {
		ls.certs[i].ClientCAs, ls.certs[i].ClientCASource = pool, source
	}
	return resolved, accepted
}

// configMap finds a ConfigMap of the snapshot.
func (t *gatewayProcessor) configMap(ns, name string) *corev1.ConfigMap {
	for i := range t.snap.ConfigMaps {
		if c := &t.snap.ConfigMaps[i]; c.Namespace == ns && c.Name == name {
			return c
		}
	}
	return nil
}
