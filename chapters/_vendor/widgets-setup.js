/*
 * Glue between the book and the ipywidgets HTML manager (@jupyter-widgets/html-manager,
 * embed-amd.js), loaded on notebook pages that contain widgets, just before embed-amd.js
 * (see nb_ipywidgets_js in _config.yml; copy_assets.py puts this file next to embed-amd.js).
 *
 * 1. Where the manager's icon fonts are. embed-amd.js computes its webpack public path, against
 *    which its CSS resolves the font URLs, from the URL RequireJS gives its AMD module
 *    "@jupyter-widgets/html-manager/dist/libembed-amd"; by default RequireJS resolves module
 *    names against the page's folder (chapters/@jupyter-widgets/html-manager/dist/...), so every
 *    font request would 404. Map that module path to the folder this script was served from,
 *    where copy_assets.py put embed-amd.js and the fonts. (The manager's own override,
 *    window.__jupyter_widgets_assets_path__, is read only after its CSS is injected, so it is
 *    set too but is not enough.)
 *
 * 2. MathJax 3. The manager typesets widget labels with the MathJax 2 API,
 *    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]), and throws
 *    "Cannot read properties of undefined (reading 'Queue')" under MathJax 3, which the book
 *    uses. Give whatever object window.MathJax is, now or later (MathJax 3 replaces its
 *    configuration object when it starts), a non-enumerable Hub.Queue that typesets the
 *    element with MathJax 3 once MathJax is ready.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (script && script.src) {
    var folder = new URL(".", script.src).href;  // ends with "/"
    window.__jupyter_widgets_assets_path__ = folder;
    if (typeof window.requirejs === "function" && typeof window.requirejs.config === "function") {
      window.requirejs.config({
        paths: { "@jupyter-widgets/html-manager/dist": folder.slice(0, -1) },
      });
    }
  }

  function typesetWhenReady(element) {
    function run() {
      var mathjax = window.MathJax;
      if (mathjax && typeof mathjax.typesetPromise === "function") {
        return mathjax.typesetPromise(element ? [element] : undefined);
      }
    }
    function afterStartup() {
      var mathjax = window.MathJax;
      var ready = mathjax && mathjax.startup && mathjax.startup.promise;
      return (ready || Promise.resolve()).then(run);
    }
    if (document.readyState === "complete") {
      afterStartup();
    } else {
      window.addEventListener("load", afterStartup, { once: true });
    }
  }

  var hub = {
    Queue: function (job) {
      typesetWhenReady(Array.isArray(job) ? job[2] : undefined);
    },
  };

  function withHub(mathjax) {
    if (mathjax && typeof mathjax === "object" && !("Hub" in mathjax)) {
      Object.defineProperty(mathjax, "Hub", { value: hub, enumerable: false, configurable: true });
    }
    return mathjax;
  }

  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () {
      return current;
    },
    set: function (value) {
      current = withHub(value);
    },
  });
})();
