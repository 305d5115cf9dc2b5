
contoso&
grace@contoso.comGraceHopper*US