"""Read side of the browser viewer (``/ui``): sign-in sessions and job browsing."""
