package show

import (
	"fmt"
	"html"
	"strings"
)

// Picture is what the kernel says about a container's first process.
type Picture struct {
	// PID is the process, as the host numbers it; Command its command line.
	PID     int
	Command []string
	// Namespaces are its namespaces, each beside the host's of the same type.
	Namespaces []Namespace
	// Cgroup is the directory of its cgroup (the deepest, on a v1 host with several);
	// Gauges are that cgroup's limits and what is in use.
	Cgroup string
	Gauges []Gauge
	// Root is the file system at its "/"; Mounts every mount it sees, in mount order.
	Root   Root
	Mounts []Mount
	// Inside are the links of its network namespace (nil when it shares the host's);
	// HostEnds the host ends of its veth pairs, Bridges their bridges, Gateway its default
	// route's, and Rules the iptables rules that name its addresses or bridges.
	Inside, HostEnds, Bridges []Link
	Gateway                   string
	Rules                     []string
	Hardening                 Hardening
}

// Namespace is one namespace of the process, and the host's of the same type.
type Namespace struct {
	Type             string
	Inode, HostInode uint64
}

// Own reports whether the namespace is the container's own rather than the host's.
func (n Namespace) Own() bool { return n.Inode != n.HostInode }

// Gauge is a cgroup limit and its counter: Used of Limit, in Unit; Limit 0 is no limit.
type Gauge struct {
	Name        string
	Used, Limit float64
	Unit        string
}

// Root is the mount at the process's "/": for an overlay, its layers (Lowers, top first),
// its writable Upper directory and its Work directory; otherwise the Dir of Source it shows.
type Root struct {
	FSType, Source, Dir string
	Lowers              []string
	Upper, Work         string
}

// Mount is one line of the process's mount table.
type Mount struct {
	Target, FSType, Source, Root string
	ReadOnly                     bool
}

// Link is a network interface: its kind (veth, bridge), index and IPv4 addresses; for a
// host end of a veth pair, the container's end (Peer), its bridge (Master), and whether
// the bridge port is isolated (--no-icc).
type Link struct {
	Name, Kind   string
	Index        int
	Up           bool
	Addresses    []string
	Peer, Master string
	Isolated     bool
}

// Hardening is what the process may do: how many capabilities it has of all there are
// (CapEff, hex, as /proc shows it), its seccomp mode, no_new_privs, and its user ID map.
type Hardening struct {
	Capabilities, AllCapabilities int
	CapEff, Seccomp               string
	NoNewPrivs                    bool
	UIDMap                        string
}

// Shares reports whether the process is in the host's namespace of type typ.
func (p *Picture) Shares(typ string) bool {
	for _, ns := range p.Namespaces {
		if ns.Type == typ {
			return !ns.Own()
		}
	}
	return true
}

// Text renders the picture for a terminal.
func (p *Picture) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %d on the host: %s\n", p.PID, strings.Join(p.Command, " "))

	b.WriteString("\nnamespaces (/proc/PID/ns beside the host's)\n")
	fmt.Fprintf(&b, "  %-8s %-12s %-12s\n", "type", "container", "host")
	for _, ns := range p.Namespaces {
		verdict := "own"
		if !ns.Own() {
			verdict = "shared with the host"
		}
		fmt.Fprintf(&b, "  %-8s %-12d %-12d %s\n", ns.Type, ns.Inode, ns.HostInode, verdict)
	}

	fmt.Fprintf(&b, "\ncgroup %s\n", orNone(p.Cgroup))
	for _, g := range p.Gauges {
		fmt.Fprintf(&b, "  %-7s %s\n", g.Name, g.text())
	}

	fmt.Fprintf(&b, "\nroot: %s", p.Root.FSType)
	if p.Root.FSType == "overlay" {
		fmt.Fprintf(&b, " (the merged view of the layers below)\n")
		fmt.Fprintf(&b, "  upper  %s   (writable: every change lands here)\n", p.Root.Upper)
		fmt.Fprintf(&b, "  work   %s\n", p.Root.Work)
		for i, l := range p.Root.Lowers {
			note := ""
			if i == 0 {
				note = "   (read-only layers, top first)"
			}
			fmt.Fprintf(&b, "  lower  %s%s\n", l, note)
		}
	} else {
		fmt.Fprintf(&b, " %s, directory %s\n", p.Root.Source, p.Root.Dir)
	}
	b.WriteString("mounts\n")
	for _, m := range p.Mounts {
		fmt.Fprintf(&b, "  %-28s %-8s %s\n", m.Target, m.FSType, mode(m.ReadOnly))
	}

	b.WriteString("\nnetwork")
	if p.Inside == nil {
		b.WriteString(": the host's (no network namespace of its own)\n")
	} else {
		b.WriteString(" (netlink, inside and on the host)\n")
		for _, l := range p.Inside {
			fmt.Fprintf(&b, "  inside  %-6s %-6s %s\n", l.Name, l.Kind, strings.Join(l.Addresses, " "))
		}
		for _, h := range p.HostEnds {
			line := fmt.Sprintf("  host    %s (the other end of %s, index %d)", h.Name, h.Peer, h.Index)
			if h.Master != "" {
				line += " on bridge " + h.Master
			}
			if h.Isolated {
				line += ", isolated"
			}
			b.WriteString(line + "\n")
		}
		for _, br := range p.Bridges {
			fmt.Fprintf(&b, "  bridge  %s %s\n", br.Name, strings.Join(br.Addresses, " "))
		}
		if p.Gateway != "" {
			fmt.Fprintf(&b, "  route   default via %s\n", p.Gateway)
		}
		for _, r := range p.Rules {
			fmt.Fprintf(&b, "  rule    iptables %s\n", r)
		}
	}

	h := p.Hardening
	fmt.Fprintf(&b, "\nhardening (/proc/PID/status)\n  capabilities %d of %d (CapEff %s), seccomp %s, no_new_privs %v\n",
		h.Capabilities, h.AllCapabilities, h.CapEff, orNone(h.Seccomp), h.NoNewPrivs)
	fmt.Fprintf(&b, "  user IDs     %s\n", h.UIDMap)
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func mode(readOnly bool) string {
	if readOnly {
		return "ro"
	}
	return "rw"
}

// text renders a gauge: a bar when there is a limit to fill.
func (g Gauge) text() string {
	if g.Unit == "CPUs" {
		if g.Limit == 0 {
			return "no quota"
		}
		return fmt.Sprintf("quota %.2f CPUs", g.Limit)
	}
	if g.Limit == 0 {
		return g.amount(g.Used) + ", no limit"
	}
	const width = 24
	filled := min(width, int(g.Used/g.Limit*width+0.5))
	return fmt.Sprintf("[%s%s] %s of %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), g.amount(g.Used), g.amount(g.Limit))
}

func (g Gauge) amount(v float64) string {
	if g.Unit == "bytes" {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.0f", v)
}

// HTML renders the picture as a page for a screen: an SVG drawing, and the text version
// under it. title names the container.
func (p *Picture) HTML(title string) string {
	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body { font-family: sans-serif; margin: 24px; background: #fafafa; color: #222; }
pre { background: #fff; border: 1px solid #ddd; padding: 12px; font-size: 13px; }
svg text { font-family: monospace; font-size: 13px; }
svg .title { font-family: sans-serif; font-size: 16px; font-weight: bold; }
</style></head><body>
<h1>%s</h1>
<p>Drawn from the kernel's state (/proc, cgroupfs, mountinfo, netlink, iptables) for process %d: %s</p>
`, e(title), e(title), p.PID, e(strings.Join(p.Command, " ")))
	b.WriteString(p.svg())
	fmt.Fprintf(&b, "\n<pre>%s</pre>\n</body></html>\n", e(p.Text()))
	return b.String()
}

// svg draws the four mechanisms in four panels, and the hardening underneath.
func (p *Picture) svg() string {
	var s svgWriter
	s.open(1200, 860)

	// Namespaces: the container's column beside the host's; own ones in colour.
	s.panel(10, 10, 580, 400, "namespaces: the container's beside the host's")
	s.text(30, 70, "container", "")
	s.text(330, 70, "host", "")
	for i, ns := range p.Namespaces {
		y := 85 + i*38
		fill, note := "#cfe8cf", "own"
		if !ns.Own() {
			fill, note = "#e0e0e0", "host's"
			s.line(280, y+14, 330, y+14, "#888")
		}
		s.rect(30, y, 250, 28, fill, "#555")
		s.text(40, y+19, fmt.Sprintf("%-7s %d  %s", ns.Type, ns.Inode, note), "")
		s.rect(330, y, 240, 28, "#e0e0e0", "#555")
		s.text(340, y+19, fmt.Sprintf("%-7s %d", ns.Type, ns.HostInode), "")
	}

	// The cgroup: its path, and a bar per limit.
	s.panel(610, 10, 580, 400, "cgroup: limits and what is in use")
	s.textWrapped(630, 70, p.Cgroup, 70)
	for i, g := range p.Gauges {
		y := 130 + i*70
		label := g.text()
		if g.Limit > 0 && g.Unit != "CPUs" {
			label = g.amount(g.Used) + " of " + g.amount(g.Limit)
		}
		s.text(630, y, g.Name+": "+label, "")
		if g.Limit > 0 && g.Unit != "CPUs" {
			s.rect(630, y+10, 520, 22, "#fff", "#555")
			s.rect(630, y+10, int(520*min(1, g.Used/g.Limit)), 22, "#f0a050", "none")
		}
	}

	// The root: the overlay's stack, writable layer on top.
	s.panel(10, 420, 580, 320, "root: "+p.Root.FSType)
	y := 470
	if p.Root.FSType == "overlay" {
		s.rect(30, y, 540, 30, "#fff", "#555")
		s.text(40, y+20, "/  the merged view the container sees", "")
		y += 40
		s.rect(30, y, 540, 30, "#f6d2a8", "#555")
		s.text(40, y+20, "upper (writable): "+shorten(p.Root.Upper, 46), "")
		y += 40
		s.text(40, y+10, "work: "+shorten(p.Root.Work, 58), "")
		y += 25
		for _, l := range p.Root.Lowers {
			if y > 700 {
				s.text(40, y+10, fmt.Sprintf("... %d layers in all", len(p.Root.Lowers)), "")
				break
			}
			s.rect(30, y, 540, 30, "#c8dcf0", "#555")
			s.text(40, y+20, "lower (read-only): "+shorten(l, 46), "")
			y += 38
		}
	} else {
		s.text(40, y+20, fmt.Sprintf("%s, directory %s", p.Root.Source, shorten(p.Root.Dir, 50)), "")
	}

	// The network: eth0 inside, the veth pair, the bridge, and the rules.
	s.panel(610, 420, 580, 320, "network: veth pair, bridge, NAT")
	if p.Inside == nil {
		s.text(630, 480, "the host's network: no namespace of its own", "")
	}
	y = 470
	for _, l := range p.Inside {
		if l.Kind == "device" && l.Name == "lo" {
			continue
		}
		s.rect(630, y, 250, 48, "#cfe8cf", "#555")
		s.text(640, y+20, "inside: "+l.Name, "")
		s.text(640, y+38, strings.Join(l.Addresses, " "), "")
		for _, h := range p.HostEnds {
			if h.Peer != l.Name {
				continue
			}
			s.line(880, y+24, 930, y+24, "#333")
			s.rect(930, y, 240, 48, "#e0e0e0", "#555")
			s.text(940, y+20, "host: "+h.Name, "")
			s.text(940, y+38, "bridge "+h.Master, "")
		}
		y += 60
	}
	for _, br := range p.Bridges {
		s.text(630, y+10, fmt.Sprintf("bridge %s %s, gateway %s", br.Name, strings.Join(br.Addresses, " "), p.Gateway), "")
		y += 22
	}
	for _, r := range p.Rules {
		for i := 0; i < len(r) && y <= 725; i += 86 {
			s.text(630, y+10, r[i:min(len(r), i+86)], "small")
			y += 15
		}
		y += 4
	}

	// Hardening, under everything.
	h := p.Hardening
	s.panel(10, 750, 1180, 100, "hardening")
	s.text(30, 810, fmt.Sprintf("capabilities %d of %d   seccomp %s   no_new_privs %v   user IDs %s",
		h.Capabilities, h.AllCapabilities, orNone(h.Seccomp), h.NoNewPrivs, h.UIDMap), "")
	s.close()
	return s.String()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n+3:]
}

// svgWriter writes SVG elements, escaping every text.
type svgWriter struct{ strings.Builder }

func (s *svgWriter) open(w, h int) {
	fmt.Fprintf(s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", w, h, w, h)
}

func (s *svgWriter) close() { s.WriteString("</svg>\n") }

func (s *svgWriter) panel(x, y, w, h int, title string) {
	s.rect(x, y, w, h, "#fff", "#999")
	fmt.Fprintf(s, `<text class="title" x="%d" y="%d">%s</text>`+"\n", x+15, y+30, html.EscapeString(title))
}

func (s *svgWriter) rect(x, y, w, h int, fill, stroke string) {
	fmt.Fprintf(s, `<rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s" stroke="%s"/>`+"\n", x, y, w, h, fill, stroke)
}

func (s *svgWriter) line(x1, y1, x2, y2 int, stroke string) {
	fmt.Fprintf(s, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", x1, y1, x2, y2, stroke)
}

func (s *svgWriter) text(x, y int, text, class string) {
	style := ""
	if class == "small" {
		style = ` style="font-size:11px"`
	}
	fmt.Fprintf(s, `<text x="%d" y="%d"%s xml:space="preserve">%s</text>`+"\n", x, y, style, html.EscapeString(text))
}

// textWrapped writes text in lines of at most n characters.
func (s *svgWriter) textWrapped(x, y int, text string, n int) {
	for i := 0; i < len(text); i += n {
		s.text(x, y+(i/n)*18, text[i:min(len(text), i+n)], "")
	}
}
