package standalone

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser for TestDashboardInBrowser:
// $PORTICO_CHROMIUM, else chromium or chromium-browser on $PATH.
func chromium(t *testing.T) string {
	if p := os.Getenv("PORTICO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("headless Chromium not found (apt-get install -y chromium, or set PORTICO_CHROMIUM)")
	return ""
}

// TestDashboardInBrowser loads the dashboard of a standalone Portico in
// headless Chromium, checks the route and backend tables, and explains a
// request through the explain box. With PORTICO_SCREENSHOTS=DIR it saves
// DIR/dashboard.png and DIR/dashboard-explain.png.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	base := startExamples(t, true)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var routes, backends string
	var page []byte
	if err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible("#routes table", chromedp.ByQuery),
		chromedp.Text("#routes table", &routes, chromedp.ByQuery),
		chromedp.Text("#backends table", &backends, chromedp.ByQuery),
		chromedp.FullScreenshot(&page, 100),
	); err != nil {
		t.Fatalf("loading the dashboard in %s: %v", exe, err)
	}
	for _, want := range []string{"Ingress/demo/shop#rule0.path2", "Ingress/demo/hosts#rule1.path0", "HTTPRoute/demo/shop#rule1.path0",
		"Gateway/demo/demo:8080", "header:env=canary"} {
		if !strings.Contains(routes, want) {
			t.Errorf("routes table lacks %q:\n%s", want, routes)
		}
	}
	if !strings.Contains(backends, "demo/green:80") || !strings.Contains(backends, "127.0.0.1:9002") {
		t.Errorf("backends table:\n%s", backends)
	}

	var result string
	var explained []byte
	if err := chromedp.Run(ctx,
		chromedp.SendKeys(`input[name="url"]`, "http://shop.example.com/api/orders", chromedp.ByQuery),
		chromedp.SetValue(`select[name="method"]`, "POST", chromedp.ByQuery),
		chromedp.SendKeys(`textarea[name="header"]`, "env: canary", chromedp.ByQuery),
		chromedp.Click("#explain-submit", chromedp.ByQuery),
		chromedp.WaitVisible("#explain-result table", chromedp.ByQuery),
		chromedp.Text("#explain-result", &result, chromedp.ByQuery),
		chromedp.FullScreenshot(&explained, 100),
	); err != nil {
		t.Fatalf("explaining in the browser: %v", err)
	}
	for _, want := range []string{"POST http://shop.example.com/api/orders", "Ingress/demo/shop#rule0.path1 [Prefix /api]",
		"the longest matching prefix wins", "proxied to demo/green:80"} {
		if !strings.Contains(result, want) {
			t.Errorf("explain result lacks %q:\n%s", want, result)
		}
	}
	if dir := os.Getenv("PORTICO_SCREENSHOTS"); dir != "" {
		for name, png := range map[string][]byte{"dashboard.png": page, "dashboard-explain.png": explained} {
			if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d KiB)", filepath.Join(dir, name), len(png)>>10)
		}
	}
}
