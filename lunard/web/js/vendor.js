// Written by lunard/web/refresh_vendor.py: URLs of the vendored files.
export const MITHRIL_JS = "/vendor/mithril@2.3.8/mithril.min.js";
export const UPLOT_JS = "/vendor/uplot@1.6.32/uPlot.iife.min.js";
export const UPLOT_CSS = "/vendor/uplot@1.6.32/uPlot.min.css";
export const CODEMIRROR_JS = "/vendor/codemirror@6.0.0-9c747150ea5e/codemirror.min.js";
